// eddy's dashboard: an overview of streams, applications and delivery streams, and a page for
// each, updated live from Server-Sent Events (/dashboard/api/events). Application pages chart an
// output's rows: the latest window as bars per key, the last hour as lines per key, and totals of
// the day per a second key (drill-down), switchable per first key.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c.nodeType ? c : String(c));
  return el;
};
const enc = encodeURIComponent;
const HISTORY = 60;  // points kept for sparklines (one a second)

const fmt = {
  num: (v, digits = 2) => (v === null || v === undefined || Number.isNaN(v)) ? '–'
      : Number(v).toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: 0}),
  rate: (v) => v === null ? '–' : fmt.num(v, v < 10 ? 1 : 0) + '/s',
  bytes: (v) => v === null ? '–' : v < 1024 ? fmt.num(v, 0) + ' B/s' : v < 1048576 ? fmt.num(v / 1024, 1) + ' KiB/s'
      : fmt.num(v / 1048576, 1) + ' MiB/s',
  size: (v) => v === null || v === undefined ? '–' : v < 1024 ? fmt.num(v, 0) + ' B'
      : v < 1048576 ? fmt.num(v / 1024, 1) + ' KiB' : fmt.num(v / 1048576, 1) + ' MiB',
  ms: (v) => v === null || v === undefined ? '–' : v < 1000 ? v + ' ms' : fmt.num(v / 1000, 1) + ' s',
  gib: (v) => v === null || v === undefined ? '–' : v < 1073741824 ? fmt.size(v) : fmt.num(v / 1073741824, 1) + ' GiB',
  uptime: (s) => {
    if (s === null || s === undefined) return '–';
    const d = Math.floor(s / 86400), hr = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return d ? `${d} d ${hr} h` : hr ? `${hr} h ${m} min` : m ? `${m} min ${Math.floor(s % 60)} s` : `${Math.floor(s)} s`;
  },
  time: (ms) => ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : 'never',
};

async function getJSON(url) {
  const r = await fetch(url, {cache: 'no-store'});
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || ('HTTP ' + r.status));
  return body;
}

// ---------------------------------------------------------------- live figures (SSE)

const live = {
  overview: null,
  prev: null,
  rates: {},  // "stream:name" -> {records: [..], bytes: [..]}, "app:name" -> {in: [..], out: [..]}
  listeners: new Set(),
};

function pushRate(key, field, value) {
  const entry = live.rates[key] || (live.rates[key] = {});
  const arr = entry[field] || (entry[field] = []);
  arr.push(value);
  if (arr.length > HISTORY) arr.shift();
}

function lastRate(key, field) {
  const arr = (live.rates[key] || {})[field];
  return arr && arr.length ? arr[arr.length - 1] : null;
}

function onOverview(o) {
  const prev = live.overview;
  if (prev) {
    const secs = Math.max(0.001, (o.now_ms - prev.now_ms) / 1000);
    const before = (list, name) => list.find((x) => x.name === name);
    for (const s of o.streams) {
      const p = before(prev.streams, s.name);
      if (!p) continue;
      pushRate('stream:' + s.name, 'records', Math.max(0, s.incoming_records - p.incoming_records) / secs);
      pushRate('stream:' + s.name, 'bytes', Math.max(0, s.incoming_bytes - p.incoming_bytes) / secs);
    }
    for (const a of o.applications) {
      const p = before(prev.applications, a.name);
      if (!p) continue;
      pushRate('app:' + a.name, 'in', Math.max(0, a.input_records - p.input_records) / secs);
      pushRate('app:' + a.name, 'out', Math.max(0, a.output_rows - p.output_rows) / secs);
    }
  }
  live.overview = o;
  for (const fn of live.listeners) fn(o);
}

function connect() {
  const badge = $('#live');
  const source = new EventSource('/dashboard/api/events');
  source.addEventListener('overview', (e) => {
    badge.textContent = 'live';
    badge.className = 'live on';
    onOverview(JSON.parse(e.data));
  });
  source.onerror = () => {
    badge.textContent = 'reconnecting…';
    badge.className = 'live off';
  };
}

// ---------------------------------------------------------------- pages

let page = null;  // {stop()} of the page shown

function route() {
  if (page && page.stop) page.stop();
  live.listeners.clear();
  const main = $('#main');
  main.textContent = '';
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const crumbs = $('#crumbs');
  crumbs.textContent = '';
  if (parts[0] === 'applications' && parts[1]) {
    crumbs.append(h('a', {href: '#/'}, 'overview'), ' / application ', parts[1]);
    page = applicationPage(main, parts[1]);
  } else if (parts[0] === 'streams' && parts[1]) {
    crumbs.append(h('a', {href: '#/'}, 'overview'), ' / stream ', parts[1]);
    page = streamPage(main, parts[1]);
  } else if (parts[0] === 'delivery-streams' && parts[1]) {
    crumbs.append(h('a', {href: '#/'}, 'overview'), ' / delivery stream ', parts[1]);
    page = deliveryPage(main, parts[1]);
  } else {
    page = overviewPage(main);
  }
  if (live.overview) for (const fn of live.listeners) fn(live.overview);
}

function table(headers, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((c) => h('th', {class: c.num ? 'num' : ''}, c.label || c)))),
    h('tbody', {}, rows));
}

// -- overview

// The server itself, for whoever runs it: health, version, uptime, the data directory's disk, and
// in cluster mode the nodes and who holds which lease (GET /eddy/v1/cluster, every 10 s).
function serverPanel() {
  const box = h('section', {id: 'server'}, h('h2', {}, 'Server'));
  const cells = {};
  const row = (label, id) => h('tr', {}, h('th', {}, label), (cells[id] = h('td', {id: 'server-' + id})));
  const services = ['streams', 'applications', 'delivery_streams', 'cluster'];
  box.append(h('table', {class: 'kv'}, h('tbody', {},
    row('Version', 'version'), row('Uptime', 'uptime'), row('Ready', 'ready'),
    services.map((k) => row(k.replace('_', ' '), 'svc-' + k)),
    row('Data directory', 'data'), row('Disk available', 'disk'))));
  const cluster = h('div', {id: 'cluster'});
  box.append(cluster);
  let clusterTimer = null;

  async function loadCluster() {
    try {
      const c = await getJSON('/eddy/v1/cluster');
      cluster.textContent = '';
      cluster.append(h('h3', {}, `Cluster: node ${c.node}, NATS ${c.server_version} (${c.connected_to}), ` +
                                 `${c.replicas} replica(s)`),
        table(['node'], (c.nodes || []).map((n) => h('tr', {'data-node': n}, h('td', {}, n))), {id: 'cluster-nodes'}),
        (c.leases || []).length ? table(['lease', 'name', 'held by'], c.leases.map((l) =>
          h('tr', {'data-lease': l.kind + ':' + l.name}, h('td', {}, l.kind.replace('_', ' ')), h('td', {}, l.name),
            h('td', {}, l.node))), {id: 'cluster-leases'}) : h('p', {class: 'empty'}, 'No leases held.'),
        c.leases_error ? h('p', {class: 'error'}, c.leases_error) : null);
    } catch (e) {
      cluster.textContent = '';
      cluster.append(h('p', {class: 'error'}, 'Cluster status: ' + e.message));
    }
  }

  function update(s) {
    if (!s) return;
    const set = (id, text, cls) => {
      cells[id].textContent = text;
      cells[id].className = cls || '';
    };
    set('version', `${s.version} (${s.commit})`);
    set('uptime', fmt.uptime(s.uptime_seconds));
    set('ready', s.ready ? 'yes' : 'no' + (s.init === 'running' ? ' (applying --apply files)' : ''),
        s.ready ? 'status-ACTIVE' : 'status-FAILING');
    for (const k of services) {
      const v = (s.services || {})[k] || '–';
      set('svc-' + k, v.replace('_', ' '), v === 'running' || v === 'disabled' ? '' : 'status-FAILING');
    }
    const d = s.data_dir || {};
    set('data', `${d.path}: ${fmt.gib(d.used_bytes)}${d.partial ? '+' : ''} in ${fmt.num(d.files, 0)} files`);
    const free = d.filesystem_size_bytes ? d.filesystem_avail_bytes / d.filesystem_size_bytes : null;
    set('disk', free === null ? '–' : `${fmt.gib(d.filesystem_avail_bytes)} of ${fmt.gib(d.filesystem_size_bytes)} ` +
        `(${fmt.num(free * 100, 0)} % free)`, free !== null && free < 0.1 ? 'status-FAILING' : '');
    if (s.cluster_node && !clusterTimer) {
      loadCluster();
      clusterTimer = setInterval(() => {
        if (document.body.contains(box)) loadCluster();
        else clearInterval(clusterTimer);
      }, 10000);
    }
  }
  return {box, update};
}

function overviewPage(main) {
  const server = serverPanel();
  main.append(server.box);
  const streams = h('section', {id: 'streams'}, h('h2', {}, 'Streams'));
  const apps = h('section', {id: 'applications'}, h('h2', {}, 'Applications'));
  const deliveries = h('section', {id: 'delivery-streams'}, h('h2', {}, 'Delivery streams'));
  main.append(streams, apps, deliveries);
  let shape = '';
  const cells = {};

  function build(o) {
    for (const el of [streams, apps, deliveries]) while (el.children.length > 1) el.lastChild.remove();
    const cell = (id, cls) => (cells[id] = h('td', {class: cls || ''}));
    const spark = (id) => (cells[id] = h('div', {class: 'spark'}));
    streams.append(o.streams.length ? table(
      ['stream', 'status', {label: 'shards', num: 1}, {label: 'records/s', num: 1}, '', {label: 'bytes/s', num: 1}, '',
       {label: 'iterator age', num: 1}],
      o.streams.map((s) => h('tr', {'data-stream': s.name},
        h('td', {}, h('a', {href: '#/streams/' + enc(s.name)}, s.name)), cell('s-status:' + s.name),
        cell('s-shards:' + s.name, 'num'), cell('s-rec:' + s.name, 'num'), h('td', {}, spark('s-recspark:' + s.name)),
        cell('s-bytes:' + s.name, 'num'), h('td', {}, spark('s-bytespark:' + s.name)), cell('s-age:' + s.name, 'num'))))
      : h('p', {class: 'empty'}, 'No streams yet.'));
    apps.append(o.applications.length ? table(
      ['application', 'status', {label: 'rows in/s', num: 1}, '', {label: 'rows out/s', num: 1},
       {label: 'error rows', num: 1}, {label: 'behind source', num: 1}, {label: 'watermark lag', num: 1},
       'last checkpoint'],
      o.applications.map((a) => h('tr', {'data-application': a.name},
        h('td', {}, h('a', {href: '#/applications/' + enc(a.name)}, a.name)), cell('a-status:' + a.name),
        cell('a-in:' + a.name, 'num'), h('td', {}, spark('a-inspark:' + a.name)), cell('a-out:' + a.name, 'num'),
        cell('a-err:' + a.name, 'num'), cell('a-lag:' + a.name, 'num'), cell('a-wm:' + a.name, 'num'),
        cell('a-ckpt:' + a.name))))
      : h('p', {class: 'empty'}, 'No applications yet.'));
    deliveries.append(o.delivery_streams.length ? table(
      ['delivery stream', 'source', 'destination', {label: 'buffered', num: 1}, {label: 'backlog records', num: 1},
       {label: 'objects', num: 1},
       {label: 'records delivered', num: 1}, {label: 'failed records', num: 1}, 'last delivery'],
      o.delivery_streams.map((d) => h('tr', {'data-delivery-stream': d.name},
        h('td', {}, h('a', {href: '#/delivery-streams/' + enc(d.name)}, d.name)), h('td', {}, d.source),
        h('td', {}, d.destination), cell('d-buffered:' + d.name, 'num'), cell('d-backlog:' + d.name, 'num'),
        cell('d-objects:' + d.name, 'num'),
        cell('d-records:' + d.name, 'num'), cell('d-failed:' + d.name, 'num'), cell('d-last:' + d.name))))
      : h('p', {class: 'empty'}, 'No delivery streams yet.'));
  }

  live.listeners.add((o) => {
    server.update(o.server);
    const sig = JSON.stringify([o.streams.map((s) => s.name), o.applications.map((a) => a.name),
                                o.delivery_streams.map((d) => d.name)]);
    if (sig !== shape) {
      shape = sig;
      build(o);
    }
    const set = (id, text, cls) => {
      if (!cells[id]) return;
      cells[id].textContent = text;
      if (cls !== undefined) cells[id].className = cls;
    };
    for (const s of o.streams) {
      set('s-status:' + s.name, s.status, 'status-' + s.status);
      set('s-shards:' + s.name, s.open_shards);
      set('s-rec:' + s.name, fmt.rate(lastRate('stream:' + s.name, 'records')));
      set('s-bytes:' + s.name, fmt.bytes(lastRate('stream:' + s.name, 'bytes')));
      set('s-age:' + s.name, fmt.ms(s.iterator_age_ms));
      const r = live.rates['stream:' + s.name];
      if (r && r.records) Charts.spark(cells['s-recspark:' + s.name], r.records);
      if (r && r.bytes) Charts.spark(cells['s-bytespark:' + s.name], r.bytes, '#16a34a');
    }
    for (const a of o.applications) {
      set('a-status:' + a.name, a.fault ? a.status + ' (failing)' : a.status, a.fault ? 'status-FAILING' : 'status-' + a.status);
      if (cells['a-status:' + a.name]) cells['a-status:' + a.name].title = a.fault || '';
      set('a-in:' + a.name, fmt.rate(lastRate('app:' + a.name, 'in')));
      set('a-out:' + a.name, fmt.rate(lastRate('app:' + a.name, 'out')));
      set('a-err:' + a.name, fmt.num(a.error_rows, 0), a.error_rows ? 'num error' : 'num');
      set('a-lag:' + a.name, fmt.ms(a.millis_behind_latest));
      set('a-wm:' + a.name, fmt.ms(a.watermark_lag_ms));
      set('a-ckpt:' + a.name, a.last_checkpoint_ms ? fmt.ms(Math.max(0, o.now_ms - a.last_checkpoint_ms)) + ' ago' : '–');
      const r = live.rates['app:' + a.name];
      if (r && r.in) Charts.spark(cells['a-inspark:' + a.name], r.in);
    }
    for (const d of o.delivery_streams) {
      set('d-buffered:' + d.name, `${fmt.size(d.buffered_bytes)} (${fmt.num(d.buffered_records, 0)} records)`);
      set('d-backlog:' + d.name, fmt.num(d.backlog_records, 0));
      set('d-objects:' + d.name, fmt.num(d.objects, 0));
      set('d-records:' + d.name, fmt.num(d.delivered_records, 0));
      set('d-failed:' + d.name, fmt.num(d.failed_records, 0), d.failed_records ? 'num error' : 'num');
      set('d-last:' + d.name, fmt.time(d.last_delivery_ms));
    }
  });
  return {};
}

// -- a stream

function streamPage(main, name) {
  const figures = h('section', {}, h('h2', {}, 'Stream ' + name), h('div', {class: 'figures'}));
  const rate = h('div', {class: 'chart'});
  const records = h('section', {}, h('h2', {}, 'Latest records'), h('div', {class: 'scroll'}));
  main.append(figures, h('section', {}, h('h2', {}, 'Incoming records/s (last minute)'), rate), records);
  let busy = false;
  live.listeners.add(async (o) => {
    const s = o.streams.find((x) => x.name === name);
    if (!s) {
      figures.lastChild.textContent = 'No stream named ' + name + '.';
      return;
    }
    figures.lastChild.textContent = `${s.status}, ${s.open_shards} open shards, ${fmt.num(s.incoming_records, 0)} records in ` +
        `(${fmt.rate(lastRate('stream:' + name, 'records'))}), iterator age ${fmt.ms(s.iterator_age_ms)}, ` +
        `MillisBehindLatest ${fmt.ms(s.millis_behind_latest)}`;
    const series = (live.rates['stream:' + name] || {}).records || [];
    const now = o.now_ms / 1000;
    Charts.lines(rate, series.map((_, i) => now - (series.length - 1 - i)), {'records/s': series}, 'records/s');
    if (busy) return;
    busy = true;
    try {
      const r = await getJSON(`/dashboard/api/streams/${enc(name)}/records?limit=20`);
      const box = records.lastChild;
      box.textContent = '';
      box.append(r.records.length ? table(['arrival', 'shard', 'data'], r.records.slice().reverse().map((x) =>
        h('tr', {}, h('td', {}, fmt.time(x.arrival_ms)), h('td', {}, x.shard),
          h('td', {}, h('code', {}, typeof x.data === 'string' ? x.data : JSON.stringify(x.data))))))
        : h('p', {class: 'empty'}, 'No records yet.'));
    } catch (e) {
      records.lastChild.textContent = e.message;
    } finally {
      busy = false;
    }
  });
  return {};
}

// -- a delivery stream

function deliveryPage(main, name) {
  const box = h('section', {}, h('h2', {}, 'Delivery stream ' + name), h('div', {class: 'figures'}),
                h('h3', {}, 'Configuration'), h('pre', {class: 'sql'}));
  main.append(box);
  getJSON('/dashboard/api/delivery-streams/' + enc(name))
    .then((d) => { box.lastChild.textContent = JSON.stringify(d.config, null, 2); })
    .catch((e) => { box.children[1].textContent = e.message; });
  live.listeners.add((o) => {
    const d = o.delivery_streams.find((x) => x.name === name);
    if (!d) return;
    box.children[1].textContent = `${d.status}; source ${d.source}; destination ${d.destination}; ` +
        `${fmt.size(d.buffered_bytes)} in ${fmt.num(d.buffered_records, 0)} records buffered, ` +
        `${fmt.num(d.backlog_records, 0)} records not yet delivered; ${fmt.num(d.objects, 0)} objects and ` +
        `${fmt.num(d.delivered_records, 0)} records delivered; ${fmt.num(d.failed_records, 0)} failed; ` +
        `last delivery ${fmt.time(d.last_delivery_ms)}`;
  });
  return {};
}

// -- an application and its output

const TIME_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?$/;

function timeMs(v) {
  if (typeof v !== 'string' || !TIME_TEXT.test(v)) return null;
  const t = Date.parse(v.replace(' ', 'T') + (v.endsWith('Z') ? '' : 'Z'));
  return Number.isNaN(t) ? null : t;
}

// Column roles guessed from the rows: times, measures (numbers), keys (other text).
function columnsOf(rows) {
  const kinds = {};
  for (const r of rows.slice(-200)) {
    for (const [k, v] of Object.entries(r)) {
      if (v === null || v === undefined) continue;
      const kind = typeof v === 'number' ? 'measure' : timeMs(v) !== null ? 'time' : 'key';
      kinds[k] = kinds[k] && kinds[k] !== kind ? 'key' : kind;
    }
  }
  const of = (kind) => Object.keys(kinds).filter((k) => kinds[k] === kind);
  const prefer = (list, re) => list.filter((k) => re.test(k)).concat(list.filter((k) => !re.test(k)));
  return {
    times: prefer(of('time'), /window_end|timestamp|rowtime|time/i),
    measures: prefer(of('measure'), /revenue|sales|price|total|sum|amount|count/i),
    keys: prefer(of('key'), /store|ticker|key|id/i),
  };
}

function applicationPage(main, name) {
  const head = h('section', {}, h('h2', {}, 'Application ' + name), h('div', {class: 'figures', id: 'app-figures'}));
  const results = h('section', {id: 'results'}, h('h2', {}, 'Results'));
  const sqlBox = h('section', {}, h('h2', {}, 'SQL'), h('pre', {class: 'sql', id: 'app-sql'}));
  const errorsBox = h('section', {id: 'app-errors'}, h('h2', {}, 'Error rows (error_stream)'), h('div', {class: 'scroll'}));
  main.append(head, results, sqlBox, errorsBox);

  const view = {rows: [], seen: new Set(), output: null, cols: null, pick: {}, drillFilter: '', source: null,
                lastErrors: -1, stopped: false};

  function renderErrors(errors) {
    const box = errorsBox.lastChild;
    box.textContent = '';
    if (!errors.length) {
      box.append(h('p', {class: 'empty'}, 'No error rows.'));
      return;
    }
    const cols = ['ERROR_TIME', 'ERROR_NAME', 'MESSAGE', 'PUMP_NAME', 'DATA_ROWTIME', 'DATA_ROW'];
    box.append(table(cols, errors.slice().reverse().map((e) =>
      h('tr', {}, cols.map((c) => h('td', {}, typeof e === 'object' && e[c] !== undefined && e[c] !== null ? String(e[c]) : ''))))));
  }

  async function loadDetail() {
    const d = await getJSON('/dashboard/api/applications/' + enc(name));
    $('#app-sql').textContent = d.code;
    renderErrors(d.errors);
    return d;
  }

  // A record's identity: its shard and offset, and its place in a KPL aggregate if it is one of
  // the aggregate's user records.
  function rowId(r) {
    return r.shard + ':' + r.offset + (r.subsequence === undefined ? '' : ':' + r.subsequence);
  }

  function addRows(list) {
    for (const r of list) {
      const id = rowId(r);
      if (view.seen.has(id) || typeof r.data !== 'object' || r.data === null) continue;
      view.seen.add(id);
      view.rows.push(r);
    }
    view.rows.sort((a, b) => a.arrival_ms - b.arrival_ms);
    if (view.rows.length > 50000) {
      for (const r of view.rows.splice(0, view.rows.length - 50000)) view.seen.delete(rowId(r));
    }
  }

  function controls(cols) {
    const box = h('div', {class: 'controls'});
    const select = (id, label, options, value, allowNone) => {
      const s = h('select', {id, onchange: () => { view.pick[id] = s.value; render(); }},
        allowNone ? h('option', {value: ''}, '(none)') : null,
        options.map((o) => h('option', {value: o}, o)));
      s.value = value || '';
      box.append(h('label', {}, label, s));
    };
    select('pick-time', 'time (x)', cols.times, view.pick['pick-time']);
    select('pick-measure', 'measure (y)', cols.measures, view.pick['pick-measure']);
    select('pick-key', 'key (series)', cols.keys, view.pick['pick-key']);
    select('pick-drill', 'drill-down by', cols.keys, view.pick['pick-drill'], true);
    return box;
  }

  function buildResults(outputs) {
    while (results.children.length > 1) results.lastChild.remove();
    if (!outputs.length) {
      results.append(h('p', {class: 'empty'}, 'This application has no outputs.'));
      return false;
    }
    // Rows of stream outputs come from the stream, of delivery stream outputs from its journal.
    const picker = h('select', {id: 'pick-output', onchange: () => startOutput(picker.value)},
      outputs.map((o) => h('option', {value: o.in_app_stream},
        `${o.in_app_stream} → ${o.kind === 'stream' ? 'stream' : 'delivery stream'} ${o.target}`)));
    results.append(h('div', {class: 'controls'}, h('label', {}, 'output', picker)), h('div', {id: 'result-body'}));
    picker.value = outputs[0].in_app_stream;
    startOutput(outputs[0].in_app_stream);
    return true;
  }

  async function startOutput(output) {
    if (view.source) view.source.close();
    view.output = output;
    view.rows = [];
    view.seen = new Set();
    view.cols = null;
    const now = Date.now();
    const dayStart = now - (now % 86400000);
    const since = Math.min(dayStart, now - 3600000);
    const body = $('#result-body');
    body.textContent = 'Loading…';
    try {
      const r = await getJSON(`/dashboard/api/applications/${enc(name)}/rows?output=${enc(output)}&since_ms=${since}&limit=50000`);
      if (view.output !== output || view.stopped) return;
      addRows(r.rows);
      const last = view.rows.length ? view.rows[view.rows.length - 1].arrival_ms : now - 1000;
      view.source = new EventSource(`/dashboard/api/events?application=${enc(name)}&output=${enc(output)}&since_ms=${last}`);
      view.source.addEventListener('rows', (e) => {
        const fresh = JSON.parse(e.data).rows;
        if (!fresh.length) return;
        addRows(fresh);
        render();
      });
      render();
    } catch (e) {
      body.textContent = e.message;
    }
  }

  function render() {
    const body = $('#result-body');
    if (!body) return;
    const rows = view.rows.map((r) => r.data);
    if (!rows.length) {
      body.textContent = '';
      body.append(h('p', {class: 'empty', id: 'no-rows'}, 'No rows yet: they appear as windows close.'));
      return;
    }
    const cols = columnsOf(rows);
    if (!view.cols || JSON.stringify(cols) !== JSON.stringify(view.cols)) {
      view.cols = cols;
      for (const [id, list] of [['pick-time', cols.times], ['pick-measure', cols.measures], ['pick-key', cols.keys]]) {
        if (!list.includes(view.pick[id])) view.pick[id] = list[0];
      }
      if (view.pick['pick-drill'] === undefined || (view.pick['pick-drill'] && !cols.keys.includes(view.pick['pick-drill']))) {
        view.pick['pick-drill'] = cols.keys.find((k) => k !== view.pick['pick-key']) || '';
      }
      body.textContent = '';
      body.append(controls(cols),
        h('div', {class: 'grid'},
          h('div', {}, h('h3', {id: 'latest-title'}), h('div', {class: 'chart', id: 'latest-chart'}),
            h('table', {id: 'latest-table'})),
          h('div', {}, h('h3', {id: 'lines-title'}), h('div', {class: 'chart', id: 'lines-chart'}))),
        h('div', {id: 'drill'}),
        h('h3', {}, 'Latest rows'), h('div', {class: 'scroll', id: 'rows-table'}));
    }
    const tcol = view.pick['pick-time'], mcol = view.pick['pick-measure'], kcol = view.pick['pick-key'];
    const dcol = view.pick['pick-drill'];
    renderRowsTable(rows);
    if (!tcol || !mcol || !kcol) {
      $('#latest-title').textContent = 'Charts need a time, a number and a key column in the rows.';
      return;
    }
    const timed = rows.map((r) => ({t: timeMs(r[tcol]), v: Number(r[mcol]), k: String(r[kcol]), r}))
      .filter((x) => x.t !== null && Number.isFinite(x.v));
    if (!timed.length) return;
    const maxT = Math.max(...timed.map((x) => x.t));

    // The latest window: a bar per key (summed over any other columns, e.g. categories).
    const latest = {};
    for (const x of timed) if (x.t === maxT) latest[x.k] = (latest[x.k] || 0) + x.v;
    const keys = Object.keys(latest).sort(naturalOrder);
    $('#latest-title').textContent = `${mcol} per ${kcol}, latest closed window (${fmt.time(maxT)})`;
    $('#latest-title').setAttribute('data-window-ms', maxT);
    Charts.bars($('#latest-chart'), keys, keys.map((k) => latest[k]), mcol);
    valuesTable($('#latest-table'), kcol, mcol, keys, latest);

    // The last hour: a line per key.
    const hour = timed.filter((x) => x.t > maxT - 3600000);
    const xs = [...new Set(hour.map((x) => x.t))].sort((a, b) => a - b);
    const index = new Map(xs.map((t, i) => [t, i]));
    const series = {};
    for (const x of hour) {
      const s = series[x.k] || (series[x.k] = xs.map(() => null));
      s[index.get(x.t)] = (s[index.get(x.t)] || 0) + x.v;
    }
    $('#lines-title').textContent = `${mcol} per ${kcol} per window, last hour`;
    Charts.lines($('#lines-chart'), xs.map((t) => t / 1000), series, mcol);

    renderDrill(timed, maxT, kcol, dcol, mcol);
  }

  function renderDrill(timed, maxT, kcol, dcol, mcol) {
    const box = $('#drill');
    if (!dcol || dcol === kcol) {
      box.textContent = '';
      box.append(h('h3', {}, 'Drill-down: pick a second key column ("drill-down by") to see totals per it.'));
      box._shape = '';
      return;
    }
    const day = new Date(maxT).toISOString().slice(0, 10);
    const today = timed.filter((x) => new Date(x.t).toISOString().slice(0, 10) === day);
    const filters = [...new Set(today.map((x) => x.k))].sort(naturalOrder);
    const shape = dcol + '|' + kcol + '|' + filters.join(',');
    if (box._shape !== shape) {
      box._shape = shape;
      box.textContent = '';
      const filter = h('select', {id: 'drill-filter', onchange: () => { view.drillFilter = filter.value; render(); }},
        h('option', {value: ''}, `all ${kcol} values`), filters.map((f) => h('option', {value: f}, f)));
      if (!filters.includes(view.drillFilter)) view.drillFilter = '';
      filter.value = view.drillFilter;
      box.append(h('h3', {id: 'drill-title'}),
        h('div', {class: 'controls'}, h('label', {}, kcol, filter)),
        h('div', {class: 'grid'}, h('div', {class: 'chart', id: 'drill-chart'}), h('table', {id: 'drill-table'})));
    }
    const totals = {};
    for (const x of today) {
      if (view.drillFilter && x.k !== view.drillFilter) continue;
      const d = String(x.r[dcol]);
      totals[d] = (totals[d] || 0) + x.v;
    }
    const keys = Object.keys(totals).sort((a, b) => totals[b] - totals[a]);
    $('#drill-title').textContent = `Total ${mcol} per ${dcol} on ${day}` + (view.drillFilter ? ` for ${view.drillFilter}` : '');
    Charts.bars($('#drill-chart'), keys, keys.map((k) => totals[k]), mcol);
    valuesTable($('#drill-table'), dcol, mcol, keys, totals);
  }

  function valuesTable(el, kcol, mcol, keys, values) {
    el.textContent = '';
    el.append(h('thead', {}, h('tr', {}, h('th', {}, kcol), h('th', {class: 'num'}, mcol))),
      h('tbody', {}, keys.map((k) => h('tr', {'data-key': k},
        h('td', {}, k), h('td', {class: 'num', 'data-value': String(values[k])}, fmt.num(values[k])))))); 
  }

  function renderRowsTable(rows) {
    const box = $('#rows-table');
    const latest = rows.slice(-20).reverse();
    const cols = Object.keys(latest[0] || {});
    box.textContent = '';
    box.append(table(cols, latest.map((r) => h('tr', {}, cols.map((c) => h('td', {}, r[c] === null ? 'NULL' : String(r[c])))))));
  }

  live.listeners.add((o) => {
    const a = o.applications.find((x) => x.name === name);
    const fig = $('#app-figures');
    if (!a) {
      fig.textContent = 'No application named ' + name + '.';
      return;
    }
    fig.textContent = `${a.status}; reads ${a.source || '–'}; ${fmt.num(a.input_records, 0)} rows in ` +
        `(${fmt.rate(lastRate('app:' + name, 'in'))}), ${fmt.num(a.output_rows, 0)} rows out ` +
        `(${fmt.rate(lastRate('app:' + name, 'out'))}), ${fmt.num(a.error_rows, 0)} error rows, ` +
        `${fmt.ms(a.millis_behind_latest)} behind its source, watermark ` +
        (a.watermark_ms === null ? 'none yet' : `${fmt.time(a.watermark_ms)} (${fmt.ms(a.watermark_lag_ms)} lag)`) +
        '; last checkpoint ' +
        (a.last_checkpoint_ms ? fmt.time(a.last_checkpoint_ms) : 'none yet') +
        (a.fault ? '. FAILING: ' + a.fault + ' (it retries)' : '');
    if (a.error_rows !== view.lastErrors && view.lastErrors !== -1) loadDetail().catch(() => {});
    view.lastErrors = a.error_rows;
  });

  loadDetail().then((d) => buildResults(d.outputs)).catch((e) => {
    $('#app-figures').textContent = e.message;
  });
  return {stop: () => { view.stopped = true; if (view.source) view.source.close(); }};
}

function naturalOrder(a, b) {
  return a.localeCompare(b, 'en', {numeric: true});
}

window.addEventListener('hashchange', route);
connect();
route();
