"""The bottom layer: frame schemas, fact names, limits, the data model, host names, the event
catalog and errors. It imports nothing else of rdsla; every other layer may import it."""
