"""Plain helpers shared by every stage: atomic IO, params, stable hashing. No Prefect, no DVC."""
