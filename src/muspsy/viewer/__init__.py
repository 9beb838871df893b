"""The run viewer (`muspsy view`): a local web server over run folders and arcs files, and a
static copy of the same pages. Pages are rendered on the server from the records, every text
escaped; nothing loads a whole run at once."""
