"""Cuts a `perf script -F time,ip,sym` dump of the main thread to the save windows that
bench/probes/main_thread_cpu.ts printed, and says where that thread's CPU went per save.

  perf script -i perf.data -F time,ip,sym > perf.txt
  python3 bench/probes/perf_windows.py perf.txt <sampling Hz> probe.log [first save to count, default 1]
"""
import collections
import re
import sys

CATEGORIES = [
    ('garbage collection', r'Marking|Sweeper|MarkCompact|Scavenge|Heap::|MemoryReducer'),
    ('page faults', r'exc_page_fault'),
    ('waking another thread', r'futex_wake|try_to_wake_up|uv_async_send'),
    ('thread messages (de)serialised', r'ValueDeserializer|ValueSerializer'),
    ('JavaScript', r'JS:|Builtins_|Interpreter|Runtime_'),
    ('libuv and Node callbacks', r'uv__|uv_run|node::'),
]


def category(stack):
    if 'epoll' in stack[0]:
        return 'entering and leaving the idle wait (epoll)'
    text = ' '.join(stack)
    for name, pattern in CATEGORIES:
        if re.search(pattern, text):
            return name
    return 'other (kernel, libc)'


def main(dump, hz, log, first=1):
    windows = [tuple(map(float, line.split()[1:3])) for line in open(log) if line.startswith('window')][first:]
    by_category, by_function = collections.Counter(), collections.Counter()
    samples, when, stack = 0, None, []

    def count():
        nonlocal samples
        if when is None or not stack or not any(a <= when <= b for a, b in windows):
            return
        samples += 1
        name = category(stack)
        by_category[name] += 1
        if name == 'JavaScript':
            frames = [f for f in stack if f.startswith('JS:')]
            by_function[frames[0] if frames else stack[0]] += 1

    for line in open(dump):
        line = line.rstrip('\n')
        head = re.match(r'^\s*(\d+\.\d+):', line)
        if head and not line.startswith('\t'):
            count()
            when, stack = float(head.group(1)), []
        elif line.strip():
            parts = line.strip().split(' ', 1)
            stack.append(parts[1] if len(parts) > 1 else parts[0])
    count()
    per_save = lambda n: n / hz * 1000 / len(windows)
    print(f'{len(windows)} saves, {per_save(samples):.1f} ms of main-thread CPU per save')
    for name, n in by_category.most_common():
        print(f'{per_save(n):7.2f} ms  {name}')
    print('JavaScript, by innermost function:')
    for name, n in by_function.most_common(15):
        print(f'{per_save(n):7.2f} ms  {name[:110]}')


if __name__ == '__main__':
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
