"""Answered writes per second: CLIENTS keep-alive clients POST one small offer each (the DAEU
sample, renumbered) to a fresh `sofi serve` for 8 s; every 200 was flushed to disk first.

    python3 benches/ecritures.py target/release/sofi CLIENTS [SAMPLE]

Prints writes/s and how many were refused (503 past the upload cap).
"""
import http.client, os, shutil, subprocess, sys, tempfile, threading, time

binaire, conc = sys.argv[1], int(sys.argv[2])
exemple = sys.argv[3] if len(sys.argv) > 3 else "../shared/lheo/samples/trefle/daeu.xml"
modele = open(exemple).read()
d = tempfile.mkdtemp()
port = 18200 + conc
serveur = subprocess.Popen(
    [binaire, "--data-dir", d, "serve", "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL
)
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/health")
        c.getresponse().read()
        break
    except OSError:
        time.sleep(0.1)
jeton = open(os.path.join(d, "admin-token")).read().strip()
fin = time.time() + 8
ok, refus = [0] * conc, [0] * conc


def client(i):
    c = http.client.HTTPConnection("127.0.0.1", port)
    k = 0
    while time.time() < fin:
        k += 1
        corps = modele.replace('numero="15_464888"', f'numero="P{i}-{k}"', 1).encode()
        c.request("POST", "/api/v1/import", corps, {"Authorization": f"Bearer {jeton}"})
        r = c.getresponse()
        r.read()
        if r.status == 200:
            ok[i] += 1
        else:
            refus[i] += 1


fils = [threading.Thread(target=client, args=(i,)) for i in range(conc)]
for f in fils:
    f.start()
for f in fils:
    f.join()
print(f"{sum(ok) / 8:.0f} writes/s, {sum(refus)} refused")
serveur.terminate()
serveur.wait()
shutil.rmtree(d)
