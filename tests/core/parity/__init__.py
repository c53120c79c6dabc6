"""Parity of the Rust core (`sock8`) with the pure-Python reference (tests/core/reference.py).

Every test runs the same call on both implementations and asserts that they return the same
value, or raise the same exception class (compared with `type(exc)`, exactly). The rules both
follow are docs/spec.md, and there is one test module per section of it:

- test_1_channel_ids.py: §1 Channel ids (templates, rendering, parsing);
- test_2_keys.py: §2 Keys (secrets, key rings);
- test_argument_types.py: "Argument types", with the inputs on which the two once disagreed;
- test_3_signing.py: §3 Signing;
- test_4_verification.py: §4 Verification;
- test_5_payload_json.py: §5 Payload JSON;
- test_oracle.py: the reference itself, against the core's constants and outside references.

Their inputs come from strategies.py (hypothesis) and cases.py (explicit tables); compare.py
runs both implementations and holds the example budgets; crafting.py makes tokens by hand.

Example budgets are written for hypothesis' default of 100 examples and scale with the
`max_examples` of the profile named by the HYPOTHESIS_PROFILE environment variable (when such a
profile is registered), else of the loaded profile. At the default the package runs in about
25 seconds on 2 cores.
"""
