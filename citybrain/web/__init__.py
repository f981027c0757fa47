"""The web server: a first operations page and the JSON API over the store."""
