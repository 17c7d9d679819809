"""VRRP (RFC 3768 v2, RFC 5798 v3): packet codec, timers and, to come, the state machine."""
