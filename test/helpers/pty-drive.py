# Runs a command in a pseudo-terminal and types into it as a user would: for each step, wait until the screen
# output (ANSI sequences removed) since the previous keystrokes matches a pattern, then send the keys. Prints
# everything the command wrote, then exits with the command's exit code. Fails (exit 99) if a pattern is not seen
# before the command ends or within the time limit, so a test never hangs on a prompt that did not come.
import json, os, pty, re, select, sys, time

steps = json.loads(sys.argv[1])
argv = sys.argv[2:]
ANSI = re.compile(rb'\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r')
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)

seen = b''
deadline = time.time() + 60

def read_some(timeout):
    global seen
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError:
        return False
    if not data:
        return False
    seen += data
    sys.stdout.buffer.write(data)
    return True

for wait_for, keys in steps:
    pattern = re.compile(wait_for.encode())
    start = len(seen)
    while not pattern.search(ANSI.sub(b'', seen[start:])):
        if time.time() > deadline or not read_some(0.2):
            sys.stdout.buffer.write(('\n[pty-drive] never saw %r\n' % wait_for).encode())
            os.kill(pid, 9)
            sys.exit(99)
    os.write(fd, keys.encode())

while read_some(1.0) and time.time() < deadline:
    pass
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
