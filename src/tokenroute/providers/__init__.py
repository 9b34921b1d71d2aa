"""Provider adapters: each module speaks one wire format over httpx (see base.py)."""
