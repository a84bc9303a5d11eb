/// `launch/tessera-run --help` (and `tessera launch --help`).
let launchUsage = """
usage: launch/tessera-run [-np N] [--hostfile F | -H host:slots,...] [--net CIDR] [--tcp-only]
                          [--rsh-agent PATH] [--node-timeout S] [--oversubscribe]
                          [--restarts K] [--restart-delay S] [--program PATH] [--] SUBCOMMAND ARGS...

Runs `tessera SUBCOMMAND ARGS...` on N ranks under mpirun, e.g.
  launch/tessera-run -np 2 train --config configs/shakespeare-char.toml
  launch/tessera-run --hostfile hosts --restarts 3 -- train --config big.toml --set train.steps=9000
  launch/tessera-run -H node1:2,node2:2 --net 10.0.0.0/24 --tcp-only train --config big.toml

Before starting it installs missing Debian packages (OpenMPI, OpenBLAS, HDF5; apt-get, with sudo
when not root) and builds the release binary (swift build -c release --product tessera), then
hands over to `tessera launch` with the same arguments, which does everything below.

options:
  -np N, -n N        number of ranks (default: 1 without a hostfile/-H, else every slot in it)
  --hostfile F       hosts and slots, one `host [slots=N] [max_slots=N]` a line (# comments);
                     passed to mpirun
  -H, --host LIST    hosts as host:slots,host:slots,... (slots default to 1); passed to mpirun
  --net CIDR         the network that MPI traffic and OpenMPI's daemons use, e.g. 10.0.0.0/24
                     (also a comma-separated list of networks or interface names):
                     --mca btl_tcp_if_include CIDR --mca oob_tcp_if_include CIDR. Give it when
                     nodes have several interfaces (docker bridges, VPNs): OpenMPI may otherwise
                     pick one that another node cannot reach, and hang.
  --tcp-only         TCP between all ranks, also within a node (--mca btl tcp,self: no shared
                     memory). Together with --net this is the tested multi-node configuration.
  --rsh-agent PATH   start the remote daemons through PATH instead of ssh (--mca plm_rsh_agent
                     PATH); it is called like ssh: `PATH HOST COMMAND...` (see launch/netns-agent)
  --node-timeout S   with a hostfile/-H: a node that stops answering (network partition, dead
                     machine) ends the job within about S seconds (default 30) instead of leaving
                     mpirun waiting for it: TCP keepalives on OpenMPI's daemon connections
                     (oob_tcp_keepalive_time/_intvl/_probes; not set when given in
                     TESSERA_MPIRUN_ARGS or OMPI_MCA_oob_tcp_keepalive_*). 0 leaves OpenMPI's
                     defaults (300 s idle, then 9 probes 20 s apart), with which a partition was
                     seen to hang mpirun for over 20 minutes.
  --oversubscribe    allow more ranks than the hostfile's/-H's slots (max_slots still bind);
                     without a hostfile/-H it is added by itself when N exceeds the local cores
  --restarts K       when the job fails (exit 1, a rank killed by a signal, or mpirun's own failure
                     such as a lost node), start it again, at most K times (default 0); `tessera
                     train` resumes from the newest complete checkpoint (--resume auto). Exit 2
                     (bad usage/config/input) is final. Each restart is logged on standard error
                     with its cause and the step it resumes from, and so is the reason when it
                     stops restarting.
  --restart-delay S  wait S seconds before each restart (default 0), e.g. for a node to come back
  --program PATH     run PATH on every rank instead of tessera (a wrapper, a profiler, a check
                     tool); the command line after the options becomes its arguments
  -h, --help         show this help
  --                 end of options; everything after it is the tessera command line

Checked before anything starts, each failing with exit 2 and one `error:` line: the hostfile's
syntax and -H's; every host resolvable here (DNS or /etc/hosts; skipped with --rsh-agent, whose hosts may
resolve only through it); N within the slots (and max_slots) unless oversubscribing; the file of
`train --config FILE`.

mpirun defaults: --quiet; --allow-run-as-root when root; --bind-to none; --mca mpi_yield_when_idle 1
(each rank also runs a gradient-communication thread); --oversubscribe when N exceeds the local
cores (no hostfile/-H). Forwarded to every node with -x: one BLAS/OpenMP thread per rank
(OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1) unless set in the environment, OPENBLAS_CORETYPE when
set, and every TESSERA_* variable of this environment (e.g. TESSERA_WATCHDOG_SECONDS) but the
launcher's own; OpenMPI forwards OMPI_MCA_* variables itself. The binary is started by its absolute
path, so every node must see the repository at the same path (shared filesystem or identical
checkout), and mpirun starts every rank in the current folder.

environment:
  TESSERA_MPIRUN_ARGS    extra mpirun flags, split on whitespace (e.g. "--mca btl_tcp_links 2")
  TESSERA_BIN            use this tessera executable instead of <repo>/.build/release/tessera, and
                         skip the build (for tests and debugging; a name without / is looked up on
                         PATH)
  TESSERA_SCRATCH_PATH   build directory (default <repo>/.build)
  TESSERA_SKIP_INSTALL=1 do not check or install Debian packages
  OPENBLAS_NUM_THREADS, OMP_NUM_THREADS   threads per rank (default 1)

The mpirun command line is printed to standard error (prefixed `tessera-run:`) before it starts,
and a job that ends without tessera's own `error:` line (a rank killed by a signal, a status of
mpirun's own such as a lost node) gets a `tessera-run:` line saying how it ended.
Exit status: the job's (mpirun's) final status; 2 for bad usage or input; 130 when interrupted.
"""
