// The odometer chart: every proven reading (registration, odometer report, service, regulator
// correction) over time, as SVG drawn from numbers. A refused rollback never entered the
// ledger, so it is not here; a regulator's correction is marked, since it is the one way a
// reading may go down.

import { formatDate, formatDateTime, formatKm, h, s } from './dom.ts';

export interface Reading {
  time: number;
  km: number;
  kind: string;
  height: number;
}

const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 72, right: 20, top: 16, bottom: 40 };

/** A round step for about `count` axis ticks up to `max`. */
function niceStep(max: number, count: number): number {
  const raw = Math.max(max, 1) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * magnitude >= raw) return factor * magnitude;
  return 10 * magnitude;
}

const KIND_LABELS: Record<string, string> = {
  'vehicle.register': 'registration',
  'vehicle.odometer': 'odometer reading',
  'vehicle.service': 'service',
  'vehicle.odometerCorrection': 'regulator correction',
};

export function readingLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}

export function odometerChart(readings: readonly Reading[]): HTMLElement {
  if (readings.length === 0) return h('p', {}, 'No odometer readings are recorded.');
  const times = readings.map((reading) => reading.time);
  const minTime = Math.min(...times);
  const maxTime = Math.max(...times);
  const step = niceStep(Math.max(...readings.map((reading) => reading.km)), 4);
  const maxKm = step * Math.max(1, Math.ceil(Math.max(...readings.map((reading) => reading.km)) / step));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  // Readings in the same instant (or a single reading) spread evenly rather than stacking.
  const x = (reading: Reading, index: number): number =>
    PAD.left +
    (maxTime > minTime
      ? ((reading.time - minTime) / (maxTime - minTime)) * plotWidth
      : readings.length === 1
        ? plotWidth / 2
        : (index / (readings.length - 1)) * plotWidth);
  const y = (km: number): number => PAD.top + plotHeight - (km / maxKm) * plotHeight;
  const corrections = readings.filter((reading) => reading.kind === 'vehicle.odometerCorrection').length;
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-labelledby': 'odometer-chart-title odometer-chart-desc',
      class: 'chart',
      'data-readings': readings.length,
    },
    s('title', { id: 'odometer-chart-title' }, 'Odometer readings over time'),
    s(
      'desc',
      { id: 'odometer-chart-desc' },
      `${readings.length} readings from ${formatKm(readings[0]?.km ?? 0)} on ${formatDate(minTime)} to ` +
        `${formatKm(readings.at(-1)?.km ?? 0)} on ${formatDate(maxTime)}` +
        (corrections > 0 ? `, with ${corrections} regulator correction(s).` : '.'),
    ),
  );
  for (let km = 0; km <= maxKm; km += step) {
    svg.append(
      s('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(km), y2: y(km), class: 'grid' }),
      s('text', { x: PAD.left - 8, y: y(km) + 4, 'text-anchor': 'end', class: 'axis' }, formatKm(km)),
    );
  }
  // Readings within two days of each other are told apart by the time of day.
  const axisDate = maxTime - minTime < 2 * 86_400_000 ? formatDateTime : formatDate;
  svg.append(
    s('text', { x: PAD.left, y: HEIGHT - 12, 'text-anchor': 'start', class: 'axis' }, axisDate(minTime)),
    s('text', { x: WIDTH - PAD.right, y: HEIGHT - 12, 'text-anchor': 'end', class: 'axis' }, axisDate(maxTime)),
  );
  const path = readings
    .map((reading, index) => `${index === 0 ? 'M' : 'L'}${x(reading, index).toFixed(1)},${y(reading.km).toFixed(1)}`)
    .join(' ');
  svg.append(s('path', { d: path, class: 'line' }));
  readings.forEach((reading, index) => {
    const cx = x(reading, index);
    const cy = y(reading.km);
    const label = `${formatKm(reading.km)} · ${readingLabel(reading.kind)} · ${formatDate(reading.time)} (block ${reading.height})`;
    if (reading.kind === 'vehicle.odometerCorrection') {
      svg.append(
        s(
          'path',
          { d: `M${cx},${cy - 8} L${cx + 8},${cy} L${cx},${cy + 8} L${cx - 8},${cy} Z`, class: 'point correction' },
          s('title', {}, label),
        ),
      );
    } else {
      svg.append(s('circle', { cx, cy, r: 5, class: 'point' }, s('title', {}, label)));
    }
  });
  const legend = h(
    'p',
    { class: 'legend' },
    h('span', { class: 'key reading' }, 'reading'),
    ' ',
    corrections > 0 ? h('span', { class: 'key correction' }, 'regulator correction (lowers the reading)') : null,
  );
  return h('figure', { class: 'chart-figure' }, svg, legend);
}

/** The same readings as a table, for screen readers and for anyone who prefers numbers. */
export function readingsTable(readings: readonly Reading[]): HTMLElement {
  return h(
    'table',
    { class: 'readings' },
    h('caption', {}, 'Odometer readings'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Date'),
        h('th', { scope: 'col' }, 'Reading'),
        h('th', { scope: 'col' }, 'Source'),
        h('th', { scope: 'col' }, 'Block'),
      ),
    ),
    h(
      'tbody',
      {},
      ...readings.map((reading) =>
        h(
          'tr',
          { class: reading.kind === 'vehicle.odometerCorrection' ? 'correction' : null },
          h('td', {}, formatDate(reading.time)),
          h('td', {}, formatKm(reading.km)),
          h('td', {}, readingLabel(reading.kind)),
          h('td', {}, reading.height),
        ),
      ),
    ),
  );
}
