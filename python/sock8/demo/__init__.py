"""`make demo`: an example app and the gateway in one process, driven by `sock8.Client`s.

    python -m sock8.demo          # run the scripted scenario, print its transcript, exit 0 or 1
    python -m sock8.demo serve    # keep the app running for manual use (a browser page at /)

`sock8.demo.app` is the example app (Starlette, `with_sock8`, a users table, the channel tree,
the gateway mounted in the same ASGI app); `sock8.demo.scenario` is the script, served the way
`sock8.demo.serving` starts the app. They need the `gateway` and `client` extras.
"""
