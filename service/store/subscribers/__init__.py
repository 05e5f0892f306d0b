"""Every query on subscribers, one module per noun; functions take a Connection so the caller
decides where a transaction starts and ends.

- records: the subscriber row and its topics, read and written
- lifecycle: sign-up, confirmation, topic changes, leaving, blocking, erasing
- bounces: the marks that stop mail to an address (bounced, complained)
- recipients: who gets mail, read in batches
- listing: the admin's search, sort and counts
- audit: the history of every change
- preferences: digest length, keywords, followed authors
- imports: CSV rows in and out, in bulk statements
- admins: admin accounts and their sessions

The decisions that need no SQL (which status an import may set, whether a link may still
confirm) live in the subscriber domain, subscribers/.
"""
