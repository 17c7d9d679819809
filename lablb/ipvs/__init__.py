"""Virtual servers: schedulers, connection table and frames (pure); forwarder.py is the
AF_PACKET Direct Routing edge."""
