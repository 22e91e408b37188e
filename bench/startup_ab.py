#!/usr/bin/env python3
# Start-up of two twistd builds, interleaved round by round: each is
# started as an echo one-liner on a fresh port and timed from exec until
# its port accepts a connection (polled every 0.2 ms), then stopped.
#   python3 bench/startup_ab.py OLD_BINARY NEW_BINARY [ROUNDS]
import subprocess,time,socket,statistics,sys,os
def once(binary,port):
    a=time.perf_counter()
    p=subprocess.Popen([binary,"-n","--pidfile=","echo","--listen",f"tcp:{port}:interface=127.0.0.1"],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    while True:
        s=socket.socket()
        try:
            s.connect(("127.0.0.1",port)); s.close(); break
        except OSError:
            s.close(); time.sleep(0.0002)
    d=(time.perf_counter()-a)*1000
    p.terminate(); p.wait()
    return d
bins=sys.argv[1:3]
rounds=int(sys.argv[3]) if len(sys.argv) > 3 else 15
res={b:[] for b in bins}
port=17600
for r in range(rounds):
    for b in bins:
        port+=1
        res[b].append(once(b,port))
for b in bins:
    print(b, "median %.1f min %.1f" % (statistics.median(res[b]), min(res[b])))
