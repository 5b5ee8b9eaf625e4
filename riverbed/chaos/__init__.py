"""``riverbed chaos``: fault injection against real workers on the local stack.

Each scenario runs a seeded stream through real worker processes in a fresh sandbox
namespace while a fault hits (workers killed, broker killed, a database restarted or
slowed, poison mixed in), then compares every table with what the pure decision logic
computes from the same input: ``lost`` and ``duplicated`` must both be 0.

* :mod:`riverbed.chaos.workload`: the seeded input, poison records, a retrying publisher
* :mod:`riverbed.chaos.faults`: the faults, acting on workers and stack services
* :mod:`riverbed.chaos.proxy`: a TCP proxy that adds latency (the slow-database fault)
* :mod:`riverbed.chaos.progress`: committed offsets and lag while a fault runs
* :mod:`riverbed.chaos.gate`: holds the publisher at each fault's point until it started
* :mod:`riverbed.chaos.slow`: the slow-database window inside the stream, and its check
* :mod:`riverbed.chaos.check`: expected against actual state, as lost/duplicated counts
* :mod:`riverbed.chaos.scenarios`: the scenarios, their sizes and fault times
* :mod:`riverbed.chaos.runner`: runs a scenario in a fresh namespace
* :mod:`riverbed.chaos.report`: results, the table and the JSON report
"""
