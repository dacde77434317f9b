"""When things happen: the event queue, firing rules, steady stretches and their ledger, outage catch-up."""
