// A demonstration fleet for a running system: containers spread over Europe with contents, fill,
// battery and position, posted as a sensor gateway would (a fleet device key, batches of 500).
// Deterministic for a given count, so a dashboard shows the same fleet each time.

const CONTENTS = ["diesel", "heating-oil", "pellets", "grain", "cement", "water"];

function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The readings of a fleet of `count` containers (ids `<prefix>-00001`…). */
export function fleetReadings(count, { prefix = "tank", seed = 7, measuredAt = new Date().toISOString() } = {}) {
  const r = random(seed);
  return Array.from({ length: count }, (_, i) => ({
    containerId: `${prefix}-${String(i + 1).padStart(5, "0")}`,
    fillPercent: Math.round(r() * 1000) / 10,
    contents: CONTENTS[Math.floor(r() * CONTENTS.length)],
    location: { lat: Math.round((36 + r() * 24) * 1e5) / 1e5, lon: Math.round((-9 + r() * 39) * 1e5) / 1e5 },
    battery: Math.round(20 + r() * 80),
    measuredAt,
  }));
}

async function call(base, path, init, token) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(base + path, {
      ...init,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...init?.headers },
    });
    if (res.status === 429 && attempt < 20) {
      await new Promise((ok) => setTimeout(ok, Number(res.headers.get("Retry-After") ?? 5) * 1000));
      continue;
    }
    if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }
}

export async function login(base, email, password) {
  const res = await fetch(`${base}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`login as ${email}: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

/** Post the fleet; returns the ids. `names`: how many of them get a name (one settings call each). */
export async function seedFleet(base, adminToken, count, { names = 0, prefix, seed } = {}) {
  const { key } = await call(
    base,
    "/v1/device-keys",
    { method: "POST", body: JSON.stringify({ label: "demonstration fleet" }) },
    adminToken,
  );
  const readings = fleetReadings(count, { prefix, seed });
  for (let i = 0; i < readings.length; i += 500) {
    await call(
      base,
      "/v1/readings",
      { method: "POST", body: JSON.stringify({ readings: readings.slice(i, i + 500) }) },
      key,
    );
  }
  for (const r of readings.slice(0, names)) {
    const place = `${r.contents} store ${r.containerId.slice(-3)}`;
    await call(
      base,
      `/v1/containers/${r.containerId}`,
      { method: "PUT", body: JSON.stringify({ name: place, location: r.location }) },
      adminToken,
    );
  }
  return { ids: readings.map((r) => r.containerId), key };
}
