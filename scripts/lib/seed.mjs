// A demonstration fleet for a running system: containers at towns across Europe with contents,
// fill, battery and position, and weeks of history if asked, posted as a sensor gateway would (a
// fleet device key, batches of 500).
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

/** Towns inland across Europe: a demonstration fleet stands on land, near a place with a name. */
const PLACES = [
  ["Zurich", 47.37, 8.54],
  ["Lyon", 45.76, 4.84],
  ["Munich", 48.14, 11.58],
  ["Milan", 45.46, 9.19],
  ["Vienna", 48.21, 16.37],
  ["Prague", 50.08, 14.44],
  ["Krakow", 50.06, 19.94],
  ["Madrid", 40.42, -3.7],
  ["Toulouse", 43.6, 1.44],
  ["Brussels", 50.85, 4.35],
  ["Berlin", 52.52, 13.4],
  ["Warsaw", 52.23, 21.01],
  ["Budapest", 47.5, 19.04],
  ["Bratislava", 48.15, 17.11],
  ["Ljubljana", 46.06, 14.51],
  ["Zagreb", 45.81, 15.98],
  ["Turin", 45.07, 7.69],
  ["Bologna", 44.49, 11.34],
  ["Florence", 43.77, 11.26],
  ["Zaragoza", 41.65, -0.89],
  ["Lille", 50.63, 3.06],
  ["Strasbourg", 48.57, 7.75],
  ["Geneva", 46.2, 6.14],
  ["Bern", 46.95, 7.45],
  ["Stuttgart", 48.78, 9.18],
  ["Frankfurt", 50.11, 8.68],
  ["Cologne", 50.94, 6.96],
  ["Leipzig", 51.34, 12.37],
  ["Dresden", 51.05, 13.74],
  ["Poznan", 52.41, 16.93],
  ["Brno", 49.2, 16.61],
  ["Graz", 47.07, 15.44],
  ["Salzburg", 47.81, 13.06],
  ["Dijon", 47.32, 5.04],
  ["Limoges", 45.83, 1.26],
  ["Clermont-Ferrand", 45.78, 3.08],
  ["Madrid-Getafe", 40.31, -3.73],
  ["Valladolid", 41.65, -4.72],
  ["Kassel", 51.31, 9.48],
  ["Linz", 48.31, 14.29],
];
const DAY = 86_400_000;

/** The readings of a fleet of `count` containers (ids `<prefix>-00001`…). */
export function fleetReadings(count, { prefix = "tank", seed = 7, measuredAt = new Date().toISOString() } = {}) {
  const r = random(seed);
  return Array.from({ length: count }, (_, i) => {
    const [town, lat, lon] = PLACES[i % PLACES.length];
    return {
      containerId: `${prefix}-${String(i + 1).padStart(5, "0")}`,
      fillPercent: Math.round(r() * 1000) / 10,
      contents: CONTENTS[Math.floor(r() * CONTENTS.length)],
      location: {
        lat: Math.round((lat + (r() - 0.5) * 0.12) * 1e5) / 1e5,
        lon: Math.round((lon + (r() - 0.5) * 0.16) * 1e5) / 1e5,
      },
      battery: Math.round(20 + r() * 80),
      measuredAt,
      town,
    };
  });
}

/**
 * `days` of history before each container's reading of now, a reading every 6 hours: consumption
 * of 0.6–3.5 points a day with noise, a weekly pattern on half of them (weekends slower), a delivery
 * (a refill to 85–95 %) when the level nears empty, and a sudden drop on every 37th container.
 */
export function historyReadings(now, days, { seed = 11 } = {}) {
  const r = random(seed);
  const out = [];
  for (const [i, reading] of now.entries()) {
    const rate = 0.6 + r() * 2.9;
    const weekly = i % 2 === 0;
    const steps = Math.floor((days * DAY) / (6 * 3600_000));
    const end = Date.parse(reading.measuredAt);
    let fill = 35 + r() * 60;
    const history = [];
    for (let k = steps; k >= 1; k--) {
      const at = end - k * 6 * 3600_000;
      const weekday = new Date(at).getUTCDay();
      const pace = weekly && (weekday === 0 || weekday === 6) ? 0.5 : 1.15;
      fill -= (rate / 4) * pace + (r() - 0.5) * 0.8;
      if (i % 37 === 5 && k === Math.floor(steps / 2)) fill -= 25;
      if (fill < 10) fill = 85 + r() * 10;
      history.push({
        containerId: reading.containerId,
        readingId: `seed-${Math.round(at / 1000)}`,
        fillPercent: Math.round(Math.max(0, Math.min(100, fill)) * 10) / 10,
        contents: reading.contents,
        location: reading.location,
        battery: Math.min(100, reading.battery + Math.round((k / steps) * 10)),
        measuredAt: new Date(at).toISOString(),
      });
    }
    // Today's reading follows on from the history, so the chart does not jump.
    reading.fillPercent = Math.round(Math.max(0, fill - rate / 4) * 10) / 10;
    out.push(...history);
  }
  return out.sort((a, b) => (a.measuredAt < b.measuredAt ? -1 : a.measuredAt > b.measuredAt ? 1 : 0));
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
export async function seedFleet(base, adminToken, count, { names = 0, prefix, seed, days = 0, log = () => {} } = {}) {
  const { key } = await call(
    base,
    "/v1/device-keys",
    { method: "POST", body: JSON.stringify({ label: "demonstration fleet" }) },
    adminToken,
  );
  const current = fleetReadings(count, { prefix, seed });
  const past = days > 0 ? historyReadings(current, days, { seed: (seed ?? 7) + 4 }) : [];
  // Names and places first, so the history's orders and alerts already say where they are.
  for (const r of current.slice(0, names)) {
    const place = `${r.town} ${r.contents} ${Number(r.containerId.slice(-5))}`;
    await call(
      base,
      `/v1/containers/${r.containerId}`,
      { method: "PUT", body: JSON.stringify({ name: place, location: r.location }) },
      adminToken,
    );
  }
  for (let i = 0; i < past.length; i += 500) {
    await call(
      base,
      "/v1/readings",
      { method: "POST", body: JSON.stringify({ readings: past.slice(i, i + 500) }) },
      key,
    );
    if (i % 5000 === 0) log(`${i + Math.min(500, past.length - i)} of ${past.length} readings of history`);
  }
  const readings = current.map((r) => {
    const { town, ...reading } = r;
    void town;
    return reading;
  });
  for (let i = 0; i < readings.length; i += 500) {
    await call(
      base,
      "/v1/readings",
      { method: "POST", body: JSON.stringify({ readings: readings.slice(i, i + 500) }) },
      key,
    );
  }
  return { ids: readings.map((r) => r.containerId), key, history: past.length };
}
