"""The words of generated cases (subjects, replies, notes, company names): data, not logic."""

SUBJECTS = [
    "Export to CSV times out for large reports",
    "Users cannot log in with single sign-on",
    "Invoices show the wrong tax rate",
    "Dashboard loads very slowly since this morning",
    "Scheduled job did not run overnight",
    "Password reset emails are not arriving",
    "API returns 502 for bulk updates",
    "Search does not find recently added records",
    "Duplicate records after the nightly import",
    "Mobile app crashes when opening attachments",
    "How do I add a new user with read-only access?",
    "Report totals do not match the ledger",
    "Webhook deliveries failing with a timeout",
    "Question about the data retention settings",
    "Date picker shows the wrong week start",
    "PDF export cuts off the last column",
    "Cannot upload files larger than 10 MB",
    "Permissions reset after changing a team",
    "Request: dark mode for the reports page",
    "Integration with the payroll system stopped syncing",
    "Notification emails go to spam",
    "Two-factor codes rejected for some users",
    "Audit log missing entries for last week",
    "Error 'record locked' when saving an order",
    "Time zone of scheduled reports is off by an hour",
    "Licence count shows more seats than we have",
    "Bulk edit does not save custom fields",
    "The product is down for all our users",
    "Data in the warehouse view looks corrupted",
    "Checkout page hangs after submitting payment",
]
DESCRIPTIONS = [
    "Since {day} several people on our team see this. We tried another browser and "
    "cleared the cache; no change.",
    "This started after the update on {day}. Steps: open the page, choose last month, "
    "press the button. Expected the usual result; got an error instead.",
    "One of our managers noticed it on {day}. It affects about a dozen users in the "
    "finance department. Screenshots available on request.",
    "We rely on this for our month-end close. It worked fine until {day}.",
    "Happens roughly one time in three since {day}. No error message, it just spins.",
]
IMPACTS = [
    "No one in the company can place orders; the warehouse has stopped.",
    "All 300 users are locked out since the morning.",
    "Customer records show other customers' data; we have taken the site offline.",
    "Every page takes over a minute to load; the call centre cannot work.",
]
AGENT_REPLIES = [
    "Thanks for the report. I can reproduce this and am looking into it now.",
    "Thank you. Could you tell us which browser and version you use, and the time it last "
    "happened (with your time zone)?",
    "We have found the cause and are testing a fix. I will update you here.",
    "I have passed this to our engineers with the details you sent.",
]
PENDING_REPLIES = [
    "Could you send the log file from the affected machine? The case waits for you until then.",
    "Please try the workaround below and tell us whether it helps.",
    "Can you confirm the account names of two affected users?",
]
CUSTOMER_REPLIES = [
    "Here are the logs you asked for.",
    "The workaround helps for now, thank you.",
    "It happened again at 10:15 this morning.",
]
NOTES = [
    "Same symptom as last month's incident; checking the job queue.",
    "Customer is on the old plan; engineering ticket filed.",
    "Reproduced on staging. Needs a fix in the next release.",
    "Called the customer; they will send logs tomorrow.",
]
RESOLUTIONS = [
    "The fix is live. Please let us know if you still see the problem.",
    "This is resolved by the configuration change we made together.",
    "Answered above; resolving. Reply here if anything is unclear.",
]
HOLD_REASONS = [
    "Waiting on a fix in the next release.",
    "Waiting on the payment provider.",
    "Scheduled for the maintenance window.",
]
EXTRA_COMPANIES = [
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Stark",
    "Wayne",
    "Tyrell",
    "Wonka",
    "Cyberdyne",
    "Oscorp",
    "Massive Dynamic",
    "Aperture",
    "Gringotts",
    "Dunder Mifflin",
    "Pied Piper",
]
CUSTOMER_NAMES = ["Dana Ruiz", "Lee Chen", "Priya Shah", "Tom Berg", "Ana Costa", "Max Weber"]
