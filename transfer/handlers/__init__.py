"""One module per family of URL schemes; each is imported only when its scheme is used."""
