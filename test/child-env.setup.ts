// Every process a test starts (the CLI, its llama.cpp server, an MCP client's CLI) inherits this worker's
// environment. A machine-wide NODE_EXTRA_CA_CERTS makes each of those node processes parse that CA bundle before its
// first line runs (about 100 ms of CPU per start on the CI machine, thousands of starts in the suite) for nothing:
// the suite's servers speak plain HTTP on loopback, and the one TLS test gives its own certificate explicitly.
delete process.env.NODE_EXTRA_CA_CERTS;
