"""A simulated OpenAI-compatible upstream: in-process for the embedded default and for
`gw_test_` keys, or as its own server (`python -m gateway.simulator --port N`)."""
