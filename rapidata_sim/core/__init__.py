"""The ground every layer stands on: the clock, the store, seeded ids, errors, paged queries."""
