"""The dashboard web app: the JSON API, the live pages and their guard (served by `dhis-sync serve`)."""
