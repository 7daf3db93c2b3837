"""The gateway call: one chat completion from the key to the answer, in the SPEC's seven
steps (`chat`). Reading the request (`request`), what the plan allows and the hold
(`admission`), the end of its books (`ending`), relaying a stream (`relay`, `sse`), and what
the client is shown of usage and of the upstream's errors (`usage`, `upstream_errors`)."""
