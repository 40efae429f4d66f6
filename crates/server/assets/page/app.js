// The try-it page: one file to the public OCR route, its answer drawn over
// the image. Plain JS, no build step, nothing fetched from elsewhere.
'use strict';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const FIELDS = [
  ['company', 'Company'], ['date', 'Date'], ['total', 'Total'], ['address', 'Address'],
  ['date_iso', 'Date (ISO)'], ['total_amount', 'Total amount'], ['currency', 'Currency'], ['tax', 'Tax'],
];

let file = null;      // the file picked or dropped
let previewUrl = null; // its blob: URL, for the <img>
let answer = null;    // the last OCR answer

// ------------------------------------------------------------ server offer

// Engines come from /health (open, like the probes): only ready ones can be
// picked, the default is selected. While models load, ask again.
async function loadEngines() {
  let health;
  try {
    health = await (await fetch('/health', { cache: 'no-store' })).json();
  } catch {
    $('server-info').textContent = 'The server cannot be reached.';
    return;
  }
  const select = $('engine');
  const chosen = select.value;
  select.replaceChildren();
  for (const e of health.engines || []) {
    const state = e.status === 'healthy' ? '' : ` (${e.status === 'loading' ? 'loading…' : 'unavailable'})`;
    const option = new Option(`${e.name}${e.default ? ', default' : ''}${state}`, e.name, false, e.default);
    option.disabled = e.status !== 'healthy';
    select.add(option);
  }
  if (chosen && [...select.options].some((o) => o.value === chosen && !o.disabled)) select.value = chosen;
  const cpu = health.cpu ? `, CPU ${health.cpu.model} (${health.cpu.isa})` : '';
  $('server-info').textContent = health.engines && health.engines.length
    ? `Version ${health.version}, profile ${health.profile}${cpu}.`
    : 'OCR is switched off on this server.';
  if ((health.engines || []).some((e) => e.status === 'loading')) setTimeout(loadEngines, 2000);
}

// ------------------------------------------------------------ picking a file

function pick(chosen) {
  file = chosen || null;
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  // Anything but a PDF may be an image the browser shows (the server decides).
  previewUrl = file && file.type !== 'application/pdf' ? URL.createObjectURL(file) : null;
  if (file) say(`${file.name} (${Math.ceil(file.size / 1024)} KB) is ready to read.`);
}

function setUpDrop() {
  const drop = $('drop');
  // A file dropped beside the zone must not make the browser open it.
  for (const type of ['dragover', 'drop']) window.addEventListener(type, (e) => e.preventDefault());
  drop.addEventListener('dragover', () => drop.classList.add('over'));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    drop.classList.remove('over');
    const dropped = e.dataTransfer && e.dataTransfer.files[0];
    if (dropped) {
      pick(dropped);
      $('submit').focus();
    }
  });
  $('file').addEventListener('change', (e) => pick(e.target.files[0]));
}

// ------------------------------------------------------------ the request

async function submit(event) {
  event.preventDefault();
  hideError();
  if (!file) {
    showError('Choose a file first: a receipt image or a PDF.');
    $('file').focus();
    return;
  }
  const form = new FormData();
  form.append('file', file, file.name);
  if ($('engine').value) form.append('engine', $('engine').value);
  form.append('fields', $('fields').checked ? 'true' : 'false');
  // The key lives in the field only: never stored, gone when the page closes.
  const key = $('key').value.trim();
  const headers = key ? { Authorization: `Bearer ${key}` } : {};

  $('submit').disabled = true;
  $('result').setAttribute('aria-busy', 'true');
  say(`Reading ${file.name}…`);
  const started = performance.now();
  try {
    let response;
    try {
      response = await fetch('/v1/ocr/receipt', { method: 'POST', body: form, headers });
    } catch {
      // A server refusing an upload early (over its size limit) closes the
      // connection before the browser has sent it all: fetch sees no answer.
      fail('The upload failed before the server answered. The file may be over the server\'s size limit, or the server is down.');
      return;
    }
    const roundTrip = performance.now() - started;
    let body = null;
    try { body = await response.json(); } catch { /* not JSON: described by status */ }
    if (!response.ok || !body || !Array.isArray(body.lines)) {
      fail(describeError(response.status, body, response.headers.get('Retry-After')));
      return;
    }
    await show(body, roundTrip);
  } finally {
    $('submit').disabled = false;
    $('result').removeAttribute('aria-busy');
  }
}

// Error codes (docs/errors.md) in words; the server's own message follows.
const MESSAGES = {
  file_too_large: 'The file is too large for this server.',
  image_too_large: 'The image has too many pixels for this server.',
  unsupported_media_type: 'This file is not an image the server can read. Send a JPEG, PNG, WEBP or BMP image.',
  content_type_mismatch: 'The file\'s type does not match its contents.',
  invalid_image: 'The image could not be decoded: it may be truncated or corrupt.',
  empty_file: 'The file is empty.',
  unauthorized: 'The server needs an API key: enter a valid one in the API key field.',
  forbidden: 'This computer\'s address may not use the service.',
  overloaded: 'The server is busy right now. Try again in a moment.',
  rate_limited: 'Too many requests from this client. Try again later.',
  models_loading: 'The models are still loading. Try again in a few seconds.',
  models_unavailable: 'The models failed to load on the server; its /health page says why.',
  engine_not_ready: 'That engine is not ready. Pick another one or try again later.',
  unknown_engine: 'The server does not run that engine.',
  deadline_exceeded: 'The server took too long to read this file. Try again, or a smaller image.',
  body_timeout: 'The upload took too long to arrive.',
  capability_disabled: 'OCR is switched off on this server.',
};
const BY_STATUS = {
  400: 'The server could not use this request.', 401: MESSAGES.unauthorized, 403: MESSAGES.forbidden,
  413: MESSAGES.file_too_large, 415: MESSAGES.unsupported_media_type, 429: MESSAGES.overloaded,
  503: 'The service is not ready yet. Try again in a few seconds.',
};

function describeError(status, body, retryAfter) {
  const error = (body && typeof body.error === 'object' && body.error) || {};
  let text = MESSAGES[error.code] || BY_STATUS[status] || `The server answered with an error (HTTP ${status}).`;
  if (error.code === 'unsupported_media_type' && file && file.type === 'application/pdf') {
    text = 'This server does not read PDFs yet. Send an image of the receipt instead.';
  }
  if ((status === 429 || status === 503) && retryAfter) text += ` The server suggests waiting ${retryAfter} s.`;
  if (typeof error.message === 'string' && error.message) text += ` (Server: ${error.message.replace(/\.$/, '')}.)`;
  return text;
}

// ------------------------------------------------------------ the answer

async function show(body, roundTrip) {
  answer = body;
  $('json').textContent = JSON.stringify(body, null, 2);
  const seconds = (ms) => `${Math.round(ms)} ms`;
  const avg = body.line_count ? `, mean confidence ${(body.avg_confidence * 100).toFixed(1)} %` : '';
  $('timing').textContent = `${body.line_count} lines by ${body.engine}${avg}. ` +
    `Server time ${seconds(body.processing_time_ms)}, round trip ${seconds(roundTrip)}.`;
  // A PDF's answer numbers its lines' pages: offer a page selector.
  const pages = Math.max(1, Number(body.page_count) || 1);
  const selector = $('page');
  selector.replaceChildren(...Array.from({ length: pages }, (_, i) => new Option(`${i + 1} of ${pages}`, i + 1)));
  $('pages').hidden = pages < 2;
  showFields(body.fields);
  await drawPage(1);
  $('result').hidden = false;
  say(`Read ${body.line_count} lines in ${seconds(body.processing_time_ms)}.`);
}

// Draws the boxes and lists the lines of one page (images have one).
async function drawPage(page) {
  const onPage = answer.lines.map((line, i) => [line, i]).filter(([line]) => (line.page || 1) === page);
  const stage = $('stage');
  const img = $('preview');
  let width;
  let height;
  if (previewUrl) {
    stage.classList.remove('blank');
    img.src = previewUrl;
    try { await img.decode(); } catch { /* drawn over the blank stage below */ }
    [width, height] = [img.naturalWidth, img.naturalHeight];
  }
  if (!width) {
    // No picture of this page (a PDF): boxes on a blank page as large as they reach.
    stage.classList.add('blank');
    const corners = onPage.flatMap(([line]) => line.bbox);
    width = Math.max(100, ...corners.map((p) => p[0])) + 20;
    height = Math.max(100, ...corners.map((p) => p[1])) + 20;
  }
  const svg = $('boxes');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.replaceChildren(...onPage.map(([line, i]) => {
    const polygon = document.createElementNS(SVG, 'polygon');
    polygon.setAttribute('points', line.bbox.map((p) => p.join(',')).join(' '));
    polygon.dataset.line = i;
    const title = document.createElementNS(SVG, 'title');
    title.textContent = line.text;
    polygon.append(title);
    return polygon;
  }));
  $('lines').replaceChildren(...onPage.map(([line, i]) => {
    const item = document.createElement('li');
    item.value = i + 1;
    item.tabIndex = 0;
    item.dataset.line = i;
    const confidence = document.createElement('span');
    confidence.className = 'conf';
    confidence.textContent = `${(line.confidence * 100).toFixed(1)} %`;
    item.append(line.text, confidence);
    return item;
  }));
}

function showFields(fields) {
  $('fields-box').hidden = !fields;
  const sources = (fields && fields.sources) || {};
  $('fields-table').tBodies[0].replaceChildren(...(fields ? FIELDS : []).map(([name, label]) => {
    const row = document.createElement('tr');
    row.dataset.field = name;
    const head = document.createElement('th');
    head.scope = 'row';
    head.textContent = label;
    row.append(head);
    const value = row.insertCell();
    value.className = fields[name] == null ? 'value missing' : 'value';
    value.textContent = fields[name] == null ? 'not found' : fields[name];
    const source = sources[name];
    // A value from the merchant directory (--merchants) says so.
    const from = source && source.from_directory ? ' (merchant directory)' : '';
    row.insertCell().textContent = source ? `${Math.round(source.confidence * 100)} %${from}` : '';
    if (source) {
      // Focusable, so keyboard users can light up the source lines too.
      row.tabIndex = 0;
      row.dataset.lines = source.lines.join(' ');
      row.title = 'Highlights the lines this value was read from';
    }
    return row;
  }));
}

// ------------------------------------------------------------ highlighting

// Lines (boxes and list items) named by the element under the pointer or focus.
function linesOf(target) {
  const el = target.closest && target.closest('[data-line], tr[data-lines]');
  if (!el) return null;
  return el.dataset.lines !== undefined ? el.dataset.lines.split(' ').filter(Boolean) : [el.dataset.line];
}

function highlight(lines, on) {
  for (const i of lines) {
    for (const el of document.querySelectorAll(`#boxes [data-line="${i}"], #lines [data-line="${i}"]`)) {
      el.classList.toggle('hot', on);
    }
  }
}

function setUpHighlighting() {
  for (const id of ['boxes', 'lines', 'fields-table']) {
    const area = $(id);
    for (const [type, on] of [['mouseover', true], ['mouseout', false], ['focusin', true], ['focusout', false]]) {
      area.addEventListener(type, (e) => {
        const lines = linesOf(e.target);
        if (!lines) return;
        const row = e.target.closest('tr[data-lines]');
        if (row) row.classList.toggle('hot', on);
        highlight(lines, on);
      });
    }
  }
  // A box clicked brings its line into view in the list.
  $('boxes').addEventListener('click', (e) => {
    const lines = linesOf(e.target);
    if (lines) document.querySelector(`#lines [data-line="${lines[0]}"]`).focus();
  });
  $('page').addEventListener('change', (e) => drawPage(Number(e.target.value)));
}

// ------------------------------------------------------------ copy, messages

async function copyJson() {
  const text = JSON.stringify(answer, null, 2);
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API off localhost over plain HTTP: select and copy.
    const area = document.createElement('textarea');
    area.value = text;
    document.body.append(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    if (!copied) return say('Copying is blocked here: open "Answer as JSON" and copy it from there.');
  }
  say('The JSON answer is on the clipboard.');
}

function say(text) { $('status').textContent = text; }
function hideError() { $('error').hidden = true; }
function showError(text) {
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
}
function fail(text) {
  $('result').hidden = true;
  say('');
  showError(text);
}

document.addEventListener('DOMContentLoaded', () => {
  setUpDrop();
  setUpHighlighting();
  $('upload').addEventListener('submit', submit);
  $('copy').addEventListener('click', copyJson);
  loadEngines();
});
