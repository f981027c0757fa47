"""Import a city from the files it has (spreadsheets, GeoJSON, shapefiles, asset registers)
into citybrain's city files, with a report of every row taken, changed or refused."""
