import sys, re, subprocess, collections, os
# phases.py PERF_DATA: the share of samples per phase of a request (bench/profile/profile.sh).
RULES = [(name, re.compile(rx)) for name, rx in [
 ("teardown (store drop, slot reset)", r"clear_and_remain_ready|drop_in_place<wasmtime::runtime::store|deallocate|decommit|StoreOpaque as core::ops::drop|Store<T> as core::ops::drop|drop_in_place<.*Store"),
 ("instantiation", r"InstancePre.*instantiate|instantiate_pre|MemoryImageSlot::instantiate|OwnedImports|func_loc|allocate_module|Instance::new_started|component::instance::Instantiator|ComponentInstance::new|InstanceAllocator"),
 ("memory.grow (mprotect)", r"set_heap_limit|memory_grow"),
 ("store + WASI ctx setup", r"Store<T>>::new|Store::new|WasiCtxBuilder|ComponentContext|StoreOpaque>::new|new_store|WasiHttpCtx|build_ctx|ctx_for"),
 ("guest code", r"\.cwasm$"),
 ("response write (writev)", r"writev|sendmsg|sys_write"),
 ("request read + parse", r"recvfrom|sys_read|sys_recv|parse_headers|role::Server|Http1Transaction|poll_read_head|read_from_io"),
 ("accept", r"accept"),
 ("sched/idle/wake", r"epoll_wait|futex|schedule|park|unpark|wake_by|reschedule_ipi|finish_task_switch"),
]]
def classify(frames):
    # frames: list of (sym, dso), leaf first. A sample in a host function that guest code
    # called counts as "host calls from guest", one in the guest's own code as "guest code".
    for name, rx in RULES:
        if name == "guest code":
            if any(d.endswith(".cwasm") for _, d in frames):
                return "guest code" if frames[0][1].endswith(".cwasm") else "host calls from guest"
            continue
        if any(rx.search(s) for s, _ in frames):
            return name
    return "other"
out = subprocess.run(["perf","script","-i",sys.argv[1],"-F","comm,ip,sym,dso"],capture_output=True,text=True).stdout
samples = []; counts = collections.Counter(); others = collections.Counter(); total = 0
for block in out.split("\n\n"):
    lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
    if len(lines) < 2: continue
    frames = []
    for l in lines[1:]:
        m = re.match(r"[0-9a-f]+\s+(.*)\s+\((.*)\)$", l)
        if m: frames.append((m.group(1), m.group(2).split("/")[-1]))
    if not frames: continue
    c = classify(frames); counts[c] += 1; total += 1; samples.append((frames, c))
    if c == "other": others[frames[0][0][:60] + " <- " + (frames[min(3,len(frames)-1)][0][:50])] += 1
for k, v in counts.most_common(): print(f"{100*v/total:5.1f}%  {k}")
drill = os.environ.get("DRILL")
if drill:
    inc = collections.Counter()
    for fr, c in samples:
        if c == drill:
            for s in set(f[0][:110] for f in fr): inc[s] += 1
    for k, v in inc.most_common(int(os.environ.get("N","40"))): print(f"   {100*v/total:5.1f}% {k}")
if "-v" in sys.argv:
    for k, v in others.most_common(25): print(f"   {100*v/total:4.1f}% {k}")
