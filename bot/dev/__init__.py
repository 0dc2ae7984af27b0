"""Development tools shipped with Aprova, never used by the running app: a loopback Slack stand-in, realistic signed
Slack request bodies, and ``python -m bot demo`` that drives the real app with both (a test checks nothing else
imports this package)."""
