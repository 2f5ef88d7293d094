// KhuyenCong.Energy live page: kiln cards and the site list, updated by Server-Sent Events. Plain JavaScript, no build step.
(() => {
  'use strict';
  const I18N = JSON.parse(document.getElementById('kc-i18n').textContent);
  const body = document.body;
  const page = body.dataset.page;
  let lang = document.documentElement.lang === 'en' ? 'en' : 'vi';
  // Server clock minus browser clock, so "seen 5 s ago" does not depend on the phone's clock being right.
  const clockOffset = Number(body.dataset.serverNow || Date.now()) - Date.now();
  const serverNow = () => Date.now() + clockOffset;

  const t = (key, vars) => {
    let s = (I18N[key] && I18N[key][lang]) || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace('{' + k + '}', v);
    return s;
  };
  const locale = () => (lang === 'vi' ? 'vi-VN' : 'en-GB');
  const num = (v, digits) => (v === null || v === undefined || !Number.isFinite(v))
    ? '—' : new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
  const clock = (ms) => ms ? new Intl.DateTimeFormat(locale(), { timeZone: 'Asia/Ho_Chi_Minh', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(new Date(ms)) : '—';
  const dateShort = (ms) => new Intl.DateTimeFormat(locale(), { timeZone: 'Asia/Ho_Chi_Minh', day: '2-digit', month: '2-digit' }).format(new Date(ms));
  const UNITS = { vi: ['giây', 'phút', 'giờ', 'ngày'], en: ['s', 'min', 'h', 'd'] };
  const duration = (ms) => {
    const s = Math.max(0, ms / 1000), u = UNITS[lang];
    if (s < 90) return Math.round(s) + ' ' + u[0];
    if (s < 5400) return Math.round(s / 60) + ' ' + u[1];
    if (s < 172800) return num(s / 3600, s < 36000 ? 1 : 0) + ' ' + u[2];
    return Math.round(s / 86400) + ' ' + u[3];
  };
  const withUnit = (text, unit) => (text === '—' ? text : text + ' ' + unit);
  const age = (ms) => ms ? t('ago', { age: duration(serverNow() - ms) }) : t('never');
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

  // ---- language ------------------------------------------------------------------------------------------------
  const applyLabels = (root) => {
    root.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = t(e.dataset.i18n); });
    root.querySelectorAll('[data-i18n-placeholder]').forEach((e) => { e.placeholder = t(e.dataset.i18nPlaceholder); });
  };
  const setLang = (l) => {
    lang = l;
    try { localStorage.setItem('kc_lang', l); } catch (_) { /* private mode: the cookie still remembers */ }
    document.cookie = 'kc_lang=' + l + '; path=/; max-age=31536000; SameSite=Lax';
    document.documentElement.lang = l;
    document.title = t('app_title');
    applyLabels(document);
    rerender();
  };
  let stored = null;
  try { stored = localStorage.getItem('kc_lang'); } catch (_) { /* ignore */ }
  const langButton = document.getElementById('lang');
  if (langButton) langButton.addEventListener('click', () => setLang(lang === 'vi' ? 'en' : 'vi'));

  // ---- connection state ----------------------------------------------------------------------------------------
  const conn = document.getElementById('conn');
  const setConn = (key, cls) => { if (conn) { conn.dataset.i18n = key; conn.textContent = t(key); conn.className = 'conn ' + cls; } };
  const problem = document.getElementById('problem');
  const showProblem = (p) => {
    if (!problem) return;
    problem.hidden = !p;
    problem.textContent = p ? t('data_error') + ': ' + p.message : '';
  };
  const listen = (url, handlers) => {
    setConn('connecting', 'wait');
    const es = new EventSource(url);
    es.onopen = () => setConn('live', 'ok');
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (signed out, or no longer allowed): back to the sign-in page.
        setConn('reconnecting', 'bad');
        setTimeout(() => { window.location.href = '/login?next=' + encodeURIComponent(location.pathname); }, 3000);
      } else {
        setConn('reconnecting', 'bad');
      }
    };
    es.addEventListener('problem', (e) => showProblem(JSON.parse(e.data)));
    for (const [name, fn] of Object.entries(handlers)) es.addEventListener(name, (e) => { setConn('live', 'ok'); fn(JSON.parse(e.data)); });
    window.addEventListener('pagehide', () => es.close());
    return es;
  };

  // ---- the site page: one card per kiln ------------------------------------------------------------------------
  const kilns = new Map();
  let status = null;

  const CARD = `
    <header class="card-head">
      <div><h2 class="kiln-name"></h2><div class="kiln-id"></div></div>
      <span class="badge" data-f="state"></span>
    </header>
    <div class="temps">
      <div class="temp"><span class="big" data-f="temp">—</span><span class="unit">°C</span></div>
      <div class="sp"><span data-i18n="setpoint"></span> <span data-f="sp">—</span> °C <span class="seg" data-f="segment"></span></div>
    </div>
    <div class="chart-box">
      <div class="chart-title"><span data-f="window-label"></span> <span class="muted" data-f="window-time"></span></div>
      <svg class="chart" viewBox="0 0 320 150" role="img"></svg>
      <div class="legend"><span class="l-temp" data-i18n="temperature"></span><span class="l-sp" data-i18n="setpoint"></span></div>
    </div>
    <dl class="figures">
      <div><dt data-i18n="power"></dt><dd data-f="power">—</dd></div>
      <div data-show="gas"><dt data-i18n="gas_rate"></dt><dd><span data-f="gas">—</span> <span data-f="gas-unit"></span></dd></div>
      <div><dt data-f="energy-label"></dt><dd data-f="energy">—</dd></div>
      <div><dt data-f="cost-label"></dt><dd><span data-f="cost">—</span><small class="muted" data-i18n="cost_note"></small></dd></div>
      <div class="wide"><dt data-i18n="projected"></dt><dd><span data-f="projected">—</span><small class="muted" data-f="projected-note"></small></dd></div>
      <div class="wide"><dt data-i18n="sec_recent"></dt><dd data-f="sec">—</dd></div>
    </dl>
    <div class="seen muted" data-f="seen"></div>`;

  const field = (card, f) => card.querySelector('[data-f="' + f + '"]');
  const setText = (card, f, text) => { const e = field(card, f); if (e && e.textContent !== text) e.textContent = text; };

  const ensureCard = (id) => {
    let k = kilns.get(id);
    if (k) return k;
    const card = el('article', 'card');
    card.dataset.kiln = id;
    card.innerHTML = CARD;
    applyLabels(card);
    const grid = document.getElementById('kilns');
    const loading = grid.querySelector('.loading');
    if (loading) loading.remove();
    grid.appendChild(card);
    k = { card, data: null, curve: [] };
    kilns.set(id, k);
    return k;
  };

  const energyText = (d) => {
    const parts = [];
    if (d.electricityKwh !== null && d.electricityKwh !== undefined) parts.push(num(d.electricityKwh, 1) + ' kWh');
    if (d.lpgKg !== null && d.lpgKg !== undefined) parts.push(num(d.lpgKg, 1) + ' kg LPG');
    if (d.gasM3 !== null && d.gasM3 !== undefined) parts.push(num(d.gasM3, 1) + ' m³');
    if (parts.length === 0) return '—';
    return parts.join(' · ') + (d.energyMj !== null && d.energyMj !== undefined ? ' = ' + num(d.energyMj, 0) + ' MJ' : '');
  };

  const renderKiln = (k) => {
    const d = k.data, card = k.card;
    if (!d) return;
    card.querySelector('.kiln-name').textContent = d.name;
    card.querySelector('.kiln-id').textContent = d.kiln + ' · ' + t('kiln_type_' + d.type);
    const state = field(card, 'state');
    const stateKey = d.running === true ? 'state_firing' : d.running === false ? 'state_idle' : 'state_unknown';
    state.textContent = t(stateKey);
    state.className = 'badge ' + (d.running === true ? 'firing' : d.running === false ? 'idle' : 'unknown');
    card.classList.toggle('is-firing', d.running === true);
    setText(card, 'temp', num(d.tempC, 0));
    setText(card, 'sp', num(d.setpointC, 0));
    setText(card, 'segment', d.running && d.segment ? '· ' + t('segment') + ' ' + d.segment : '');
    setText(card, 'power', withUnit(num(d.powerKw, 1), 'kW'));
    const gasRow = card.querySelector('[data-show="gas"]');
    gasRow.hidden = d.gasRate === null || d.gasRate === undefined;
    setText(card, 'gas', num(d.gasRate, 1));
    setText(card, 'gas-unit', d.gasRateUnit === 'm3/h' ? 'm³/h' : (d.gasRateUnit || ''));
    const last = d.firingEndMs !== null && d.firingEndMs !== undefined;
    setText(card, 'energy-label', t(last ? 'energy_last' : 'energy_now'));
    setText(card, 'cost-label', t(last ? 'cost_last' : 'cost_now'));
    setText(card, 'energy', d.firingStartMs ? energyText(d) : '—');
    setText(card, 'cost', d.firingStartMs ? withUnit(num(d.costVnd, 0), '₫') : '—');
    setText(card, 'projected', d.projectedMj !== null && d.projectedMj !== undefined ? '≈ ' + num(d.projectedMj, 0) + ' MJ' : '—');
    const note = d.projectedMj !== null && d.projectedMj !== undefined ? t('proj_basis', { h: num(d.plannedDurationH, 1) })
      : d.projectionNote === 'no-history' ? t('proj_no_history') : d.projectionNote === 'too-early' ? t('proj_too_early')
        : d.projectionNote === 'not-running' ? t('proj_not_running') : '';
    setText(card, 'projected-note', note);
    const sec = (d.recent || []).filter((f) => f.secMjPerKg !== null && f.secMjPerKg !== undefined).slice(0, 3);
    setText(card, 'sec', sec.length === 0 ? '—' : sec.map((f) => num(f.secMjPerKg, 1) + ' MJ/kg (' + dateShort(f.startMs) + ')').join(' · '));
    if (d.firingStartMs) {
      setText(card, 'window-label', t(last ? 'last_firing' : 'current_firing'));
      setText(card, 'window-time', t('started') + ' ' + clock(d.firingStartMs) + (last ? ' · ' + t('ended') + ' ' + clock(d.firingEndMs)
        : ' · ' + t('elapsed') + ' ' + duration(serverNow() - d.firingStartMs)));
    } else {
      setText(card, 'window-label', t('no_firing'));
      setText(card, 'window-time', '');
    }
    // When the controller last reported: from the device list, so that a card changes only when its figures do.
    const seen = status ? Math.max(0, ...status.devices.filter((x) => x.kiln === d.kiln && x.measurement === 'kiln').map((x) => x.lastMs)) : 0;
    setText(card, 'seen', t('temperature') + ': ' + age(seen || null));
  };

  const SVGNS = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs, text) => {
    const e = document.createElementNS(SVGNS, tag);
    for (const [a, v] of Object.entries(attrs)) e.setAttribute(a, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };

  const drawCurve = (k) => {
    const chart = k.card.querySelector('.chart');
    const W = 320, H = 150, L = 34, R = 6, T = 8, B = 20;
    chart.replaceChildren();
    const pts = k.curve;
    const d = k.data;
    if (pts.length === 0 || !d || !d.firingStartMs) return;
    const x0 = d.firingStartMs;
    const x1 = Math.max(serverNow(), pts[pts.length - 1].t, x0 + 60000);
    let yMax = 100;
    for (const p of pts) yMax = Math.max(yMax, p.temp || 0, p.sp || 0);
    yMax = Math.ceil(yMax / 100) * 100;
    const X = (ms) => L + (W - L - R) * (ms - x0) / (x1 - x0);
    const Y = (c) => T + (H - T - B) * (1 - c / yMax);
    for (const c of [0, yMax / 2, yMax]) {
      chart.appendChild(svg('line', { x1: L, x2: W - R, y1: Y(c), y2: Y(c), class: 'grid' }));
      chart.appendChild(svg('text', { x: L - 4, y: Y(c) + 3, class: 'axis', 'text-anchor': 'end' }, num(c, 0)));
    }
    chart.appendChild(svg('text', { x: L, y: H - 5, class: 'axis' }, clock(x0).slice(0, 5)));
    chart.appendChild(svg('text', { x: W - R, y: H - 5, class: 'axis', 'text-anchor': 'end' }, clock(x1).slice(0, 5)));
    const line = (key, cls) => {
      const coords = pts.filter((p) => p[key] !== null && p[key] !== undefined).map((p) => X(p.t).toFixed(1) + ',' + Y(p[key]).toFixed(1));
      if (coords.length > 0) chart.appendChild(svg('polyline', { points: coords.join(' '), class: cls }));
    };
    if (d.firingEndMs) chart.appendChild(svg('line', { x1: X(d.firingEndMs), x2: X(d.firingEndMs), y1: T, y2: H - B, class: 'end-mark' }));
    line('sp', 'sp-line');
    line('temp', 'temp-line');
    chart.setAttribute('aria-label', t('temperature') + ' ' + num(pts[pts.length - 1].temp, 0) + ' °C');
  };

  const renderStatus = () => {
    if (!status) return;
    setText(document, 'site-load', num(status.loadKw, 1));
    setText(document, 'site-firing', String(status.kilnsFiring));
    const list = document.getElementById('gateways');
    list.replaceChildren();
    for (const g of status.gateways) {
      const li = el('li', 'gw ' + (g.online === true ? 'ok' : g.online === false ? 'bad' : 'unknown'));
      li.dataset.gateway = g.gateway;
      li.appendChild(el('strong', null, g.gateway));
      li.appendChild(el('span', 'dot', g.online === true ? t('online') : g.online === false ? t('offline') : t('status_unknown')));
      li.appendChild(el('span', 'muted', t('last_data') + ': ' + age(g.lastDataMs)));
      list.appendChild(li);
    }
    const devices = document.getElementById('devices');
    devices.replaceChildren();
    for (const dv of status.devices) {
      const li = el('li', null);
      li.appendChild(el('span', null, dv.device + (dv.kiln ? ' (' + dv.kiln + ')' : '')));
      li.appendChild(el('span', 'muted', age(dv.lastMs)));
      devices.appendChild(li);
    }
  };

  // ---- the site list (centre, auditors) ------------------------------------------------------------------------
  let sites = null;
  const renderSites = () => {
    if (!sites) return;
    const list = document.getElementById('sites');
    list.replaceChildren();
    for (const s of sites) {
      const a = el('a', 'card site-row');
      a.href = '/site/' + encodeURIComponent(s.site);
      a.dataset.site = s.site;
      a.appendChild(el('h2', null, s.name));
      a.appendChild(el('div', 'kiln-id', s.site + (s.address ? ' · ' + s.address : '')));
      const dl = el('dl', 'figures');
      const add = (label, value, f) => { const div = el('div'); div.appendChild(el('dt', null, t(label))); const dd = el('dd', null, value); dd.dataset.f = f; div.appendChild(dd); dl.appendChild(div); };
      add('site_load', num(s.loadKw, 1) + ' kW', 'load');
      add('kilns_firing', s.kilnsFiring + ' / ' + s.kilns, 'firing');
      add('gateways_online', s.gatewaysOnline + ' / ' + s.gateways, 'gateways');
      add('last_data', age(s.lastDataMs), 'last');
      a.appendChild(dl);
      list.appendChild(a);
    }
  };

  const rerender = () => {
    for (const k of kilns.values()) { renderKiln(k); drawCurve(k); }
    renderStatus();
    renderSites();
  };

  if (stored && (stored === 'vi' || stored === 'en') && stored !== lang) setLang(stored);
  else if (!stored) { try { localStorage.setItem('kc_lang', lang); } catch (_) { /* ignore */ } }

  if (page === 'site') {
    const site = body.dataset.site;
    listen('/live/site/' + encodeURIComponent(site) + '/events', {
      kiln: (d) => {
        const k = ensureCard(d.kiln);
        if (!k.data || k.data.firingStartMs !== d.firingStartMs) k.curve = []; // another firing: its curve follows
        k.data = d; renderKiln(k); drawCurve(k); },
      curve: (c) => {
        const k = ensureCard(c.kiln);
        if (c.reset) k.curve = [];
        for (const p of c.points) k.curve.push({ t: p[0], temp: p[1], sp: p[2] });
        drawCurve(k);
      },
      status: (s) => { status = s; renderStatus(); for (const k of kilns.values()) renderKiln(k); },
    });
  } else if (page === 'sites') {
    listen('/live/sites/events', { sites: (s) => { sites = s; renderSites(); } });
  }
  // Ages ("5 s ago") move on between events.
  setInterval(() => {
    for (const k of kilns.values()) renderKiln(k);
    renderStatus();
    renderSites();
  }, 5000);
})();
