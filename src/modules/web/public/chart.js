// A small inline-SVG line chart (no library): R@1 (percent) against eps, one line per series.
const SVG = 'http://www.w3.org/2000/svg';
export const SERIES_COLOURS = ['#0b5fff', '#d1242f', '#1a7f37', '#8250df', '#bf8700', '#0a7d8c'];

function el(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Round tick steps (1, 2, 5 x 10^k) from 0 up to the first tick at or above max. */
export function ticks(max, count = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9));
  const steps = Math.ceil(max / step - 1e-9);
  const out = [];
  for (let i = 0; i <= steps; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/**
 * series: [{ name, points: [{ x, y }] }] with y in percent (0..100). Returns an <svg> with a title
 * and description for screen readers; the caller should also offer the numbers as a table.
 */
export function lineChart({
  title,
  description,
  series,
  xLabel,
  yLabel,
  width = 640,
  height = 320,
}) {
  const margin = { top: 20, right: 20, bottom: 48, left: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xMax = Math.max(...xs, 0) || 1;
  const xTicks = ticks(xMax, 5);
  const xTop = xTicks[xTicks.length - 1] || xMax;
  const sx = (x) => margin.left + (x / xTop) * plotW;
  const sy = (y) => margin.top + plotH - (Math.max(0, Math.min(100, y)) / 100) * plotH;

  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: 'chart',
    role: 'img',
    'aria-labelledby': 'chart-title chart-desc',
  });
  svg.append(
    el('title', { id: 'chart-title' }, title),
    el('desc', { id: 'chart-desc' }, description),
  );
  for (const y of [0, 20, 40, 60, 80, 100]) {
    svg.append(
      el('line', {
        class: 'grid-line',
        x1: margin.left,
        x2: margin.left + plotW,
        y1: sy(y),
        y2: sy(y),
      }),
    );
    svg.append(el('text', { x: margin.left - 8, y: sy(y) + 4, 'text-anchor': 'end' }, `${y}`));
  }
  for (const x of xTicks) {
    svg.append(
      el('line', {
        class: 'axis',
        x1: sx(x),
        x2: sx(x),
        y1: margin.top + plotH,
        y2: margin.top + plotH + 5,
      }),
    );
    svg.append(
      el('text', { x: sx(x), y: margin.top + plotH + 18, 'text-anchor': 'middle' }, formatTick(x)),
    );
  }
  svg.append(
    el('line', {
      class: 'axis',
      x1: margin.left,
      x2: margin.left + plotW,
      y1: margin.top + plotH,
      y2: margin.top + plotH,
    }),
  );
  svg.append(
    el('line', {
      class: 'axis',
      x1: margin.left,
      x2: margin.left,
      y1: margin.top,
      y2: margin.top + plotH,
    }),
  );
  svg.append(
    el('text', { x: margin.left + plotW / 2, y: height - 8, 'text-anchor': 'middle' }, xLabel),
  );
  svg.append(
    el(
      'text',
      {
        x: 14,
        y: margin.top + plotH / 2,
        'text-anchor': 'middle',
        transform: `rotate(-90 14 ${margin.top + plotH / 2})`,
      },
      yLabel,
    ),
  );

  series.forEach((s, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length];
    const points = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (points.length > 1) {
      svg.append(
        el('polyline', {
          class: 'series',
          stroke: colour,
          points: points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' '),
        }),
      );
    }
    for (const p of points) {
      const dot = el('circle', { cx: sx(p.x), cy: sy(p.y), r: 4, fill: colour });
      dot.append(el('title', {}, `${s.name}: ${p.y.toFixed(1)}% at ${xLabel} ${formatTick(p.x)}`));
      svg.append(dot);
    }
  });
  return svg;
}

function formatTick(x) {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3)));
}
