// Preloaded (`node --import`) into the gateway children of the chaos campaigns: a child whose harness died (a
// crash, an OOM abort, a SIGKILL — where no exit handler runs) is re-parented, and then kills itself. An orphaned
// gateway keeps its register's path and grabs the next pseudo-terminal that gets that number: it locked the port
// of a later campaign's gateway ("Cannot lock port") and stalled it.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, 500).unref();
