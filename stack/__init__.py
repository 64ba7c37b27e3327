"""The system's resources described once, as data: tables, queues, topics, functions, event sources, schedules and
each function's environment. terraform/ creates them in AWS (tests/terraform checks the two agree); the local
mode, the tests and the benchmarks create and read them from here. Development tooling: never packaged."""
