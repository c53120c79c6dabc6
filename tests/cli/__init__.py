"""`sock8` commands other than the gateway: `sock8 token inspect`, the key-ring file."""
