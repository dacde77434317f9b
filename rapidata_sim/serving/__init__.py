"""A world on the network: TLS and uvicorn, many worlds behind one server, and the client that reaches one."""
