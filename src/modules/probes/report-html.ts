/** A self-contained HTML page of a probe: figures, the R@1-versus-eps curve as inline SVG, examples inline. */
import { METRIC_NAMES } from '../../ml/attacks/definitions';
import { formatEstimate } from '../../ml/robustness/intervals';
import {
  chanceSentence,
  formatErsEstimate,
  formatFigure,
  formatFigureEstimate,
  formatPercentEstimate,
  INTERVAL_CONVENTION,
  MORE_ROBUST,
} from '../../ml/robustness/render';
import type { ProbeViewDto } from './probe-view';
import type { CurvePoint } from './runner/probe-report';

const escape = (text: unknown): string =>
  String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const CURVE_SERIES: { key: 'recallAt1' | 'ES:R' | 'LTM' | 'GTM'; colour: string; name: string }[] =
  [
    { key: 'recallAt1', colour: '#c0392b', name: 'R@1, worst case' },
    { key: 'ES:R', colour: '#2980b9', name: 'ES:R' },
    { key: 'LTM', colour: '#27ae60', name: 'LTM' },
    { key: 'GTM', colour: '#8e44ad', name: 'GTM' },
  ];

/** R@1 (0..100) against eps, one polyline per series that has values. */
export function curveSvg(curve: CurvePoint[], cleanRecallAt1: number): string {
  const width = 560;
  const height = 320;
  const left = 50;
  const right = 150;
  const top = 20;
  const bottom = 40;
  const maxEps = Math.max(...curve.map((p) => p.eps), 1e-9);
  const x = (eps: number) => left + ((width - left - right) * eps) / maxEps;
  const y = (r: number) => top + ((height - top - bottom) * (100 - r)) / 100;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="R@1 versus eps">`,
  );
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);
  for (const r of [0, 25, 50, 75, 100]) {
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(r)}" y2="${y(r)}" stroke="#ddd"/>`,
    );
    parts.push(
      `<text x="${left - 6}" y="${y(r) + 4}" font-size="11" text-anchor="end">${r}</text>`,
    );
  }
  for (const p of curve) {
    parts.push(
      `<text x="${x(p.eps)}" y="${height - bottom + 16}" font-size="11" text-anchor="middle">${p.eps.toFixed(3)}</text>`,
    );
  }
  parts.push(
    `<text x="${(left + width - right) / 2}" y="${height - 6}" font-size="12" text-anchor="middle">eps (l-inf)</text>`,
  );
  parts.push(
    `<text x="14" y="${top + (height - top - bottom) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${top + (height - top - bottom) / 2})">R@1 %</text>`,
  );
  parts.push(
    `<line x1="${left}" x2="${width - right}" y1="${y(cleanRecallAt1)}" y2="${y(cleanRecallAt1)}" stroke="#999" stroke-dasharray="4 3"/>`,
  );
  let legend = 0;
  const legendRow = (colour: string, name: string, dashed = false) => {
    const ly = top + 14 + 18 * legend++;
    parts.push(
      `<line x1="${width - right + 10}" x2="${width - right + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"${dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    parts.push(`<text x="${width - right + 35}" y="${ly}" font-size="11">${escape(name)}</text>`);
  };
  legendRow('#999', 'clean R@1', true);
  for (const series of CURVE_SERIES) {
    const points = curve
      .map((p) => ({
        eps: p.eps,
        r: series.key === 'recallAt1' ? p.recallAt1 : p.figures[series.key],
      }))
      .filter((p): p is { eps: number; r: number } => typeof p.r === 'number');
    if (points.length === 0) continue;
    const path = points.map((p) => `${x(p.eps).toFixed(1)},${y(p.r).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline points="${path}" fill="none" stroke="${series.colour}" stroke-width="2"/>`,
    );
    for (const p of points)
      parts.push(
        `<circle cx="${x(p.eps).toFixed(1)}" cy="${y(p.r).toFixed(1)}" r="3" fill="${series.colour}"/>`,
      );
    legendRow(series.colour, series.name);
  }
  parts.push('</svg>');
  return parts.join('');
}

export function renderProbeHtml(view: ProbeViewDto, examplePngs: Uint8Array[]): string {
  const r = view.report;
  const head = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Probe ${escape(view.id)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.warn{color:#b00}img{image-rendering:pixelated;border:1px solid #ccc}</style></head><body>`;
  const lines: string[] = [
    head,
    `<h1>Security probe ${escape(view.id)}</h1>`,
    `<p>Status: <b>${escape(view.status)}</b>`,
  ];
  if (!r) {
    if (view.progress) lines.push(` &mdash; ${escape(JSON.stringify(view.progress))}`);
    if (view.error) lines.push(`</p><p class="warn">${escape(view.error)}`);
    lines.push('</p></body></html>');
    return lines.join('');
  }
  const c = r.config;
  lines.push(` &mdash; ${r.durationSeconds.toFixed(1)} s</p>`);
  lines.push(
    `<p>Model <b>${escape(r.model.id)}</b> (weights sha256 <code>${escape(r.model.weightsSha256)}</code>), probe set ${escape(r.probeSet.name)}: ${r.probeSet.images} images, ${r.probeSet.classes} classes, ${r.probeSet.sampleSize} queries attacked.</p>`,
  );
  lines.push(
    `<p>eps ${c.eps.map((e) => e.toFixed(4)).join(', ')} (suite at ${r.primaryEps.toFixed(4)}), step ${c.stepSize.toFixed(4)} x ${c.steps} steps, ${c.restarts} restart(s), random start ${c.randomStart}, seed ${c.seed}.</p>`,
  );
  const e = r.estimates;
  const ersText =
    r.ers === null ? '- (needs all attacks)' : e?.ers ? formatErsEstimate(e.ers) : r.ers.toFixed(1);
  lines.push(
    e
      ? `<h2>Results</h2><p>Clean R@1 <b>${formatPercentEstimate(e.naturalRecallAt1)}</b> (chance ${r.chance ? `${r.chance.recallAt1.toFixed(1)}%` : '-'}), ` +
          `MAP@R ${formatPercentEstimate(e.mapAtR)}; ERS <b>${ersText}</b>.</p>`
      : `<h2>Results</h2><p>Clean R@1 <b>${r.clean.recallAt1.toFixed(1)}%</b>, MAP@R ${r.clean.mapAtR.toFixed(1)}%; ERS <b>${ersText}</b>.</p>`,
  );
  lines.push(
    '<table class="figures"><tr><th>figure</th><th>value [95% interval], n</th><th>chance</th><th>clean</th><th>more robust if</th></tr>',
  );
  const sentences: string[] = [];
  for (const metric of METRIC_NAMES) {
    const value = r.figures[metric];
    if (value === undefined) continue;
    const attack = metric.startsWith('ES') ? 'ES' : metric;
    const summary = r.attacks.find((a) => a.attack === attack);
    const estimate = e?.figures[metric];
    const cleanEstimate = summary?.cleanEstimates?.[metric];
    const shown = estimate ? formatFigureEstimate(metric, estimate) : formatFigure(metric, value);
    const clean = cleanEstimate
      ? formatFigureEstimate(metric, cleanEstimate)
      : formatFigure(metric, summary?.cleanFigures[metric]);
    const chance =
      estimate?.chance === null || estimate?.chance === undefined
        ? '-'
        : formatFigure(metric, estimate.chance);
    lines.push(
      `<tr><td>${escape(metric)}</td><td>${escape(shown)}</td><td>${chance}</td><td>${escape(clean)}</td><td>${MORE_ROBUST[metric]}</td></tr>`,
    );
    const sentence = estimate ? chanceSentence(metric, estimate) : null;
    if (sentence) sentences.push(sentence);
  }
  lines.push('</table>');
  for (const sentence of sentences) lines.push(`<p class="chance">${escape(sentence)}</p>`);
  if (e) lines.push(`<p class="hint">${escape(INTERVAL_CONVENTION)}</p>`);
  lines.push('<h2>R@1 under attack versus eps</h2>', curveSvg(r.curve, r.clean.recallAt1));
  lines.push(
    '<table><tr><th>eps</th><th>R@1 under attack (worst case per query up to this eps)</th><th>lowest R@1 measured at this eps</th><th>ERS</th></tr>',
  );
  const cell = (v: number | null) => (v === null ? '-' : v.toFixed(1));
  for (const p of r.curve) {
    const worst = p.estimates?.recallAt1;
    const raw = (['ES:R', 'LTM', 'GTM'] as const)
      .map((m) => ({ m, estimate: p.estimates?.figures[m] }))
      .filter((x) => x.estimate !== undefined && x.estimate.value === p.rawRecallAt1)[0];
    lines.push(
      `<tr><td>${p.eps.toFixed(4)}</td><td>${worst ? escape(formatEstimate(worst, { unit: '%' })) : cell(p.recallAt1)}</td>` +
        `<td>${raw ? escape(`${raw.m} ${formatFigureEstimate(raw.m, raw.estimate)}`) : cell(p.rawRecallAt1)}</td><td>${cell(p.ers)}</td></tr>`,
    );
  }
  lines.push('</table>');
  if (r.candidateRanks) {
    const d = r.candidateRanks.ranks;
    lines.push(
      `<h2>CA+: how far a perturbed ${r.candidateRanks.liveGallery ? 'gallery upload' : 'candidate'} climbs</h2>`,
    );
    lines.push(
      `<p>${r.candidateRanks.candidates} candidates x ${r.candidateRanks.queriesPerCandidate} random queries: mean percentile rank ${d.mean.toFixed(1)} (clean ${r.candidateRanks.cleanMean.toFixed(1)}), median ${d.quantiles.p50.toFixed(1)}, top 1%: ${d.top1PercentShare.toFixed(1)}% of pairs, top 10%: ${d.top10PercentShare.toFixed(1)}%.</p>`,
    );
    lines.push(
      `<table><tr>${d.histogram.map((b) => `<th>${b.from}-${b.to}</th>`).join('')}</tr><tr>${d.histogram.map((b) => `<td>${b.count}</td>`).join('')}</tr></table>`,
    );
  }
  const s = r.sanity;
  lines.push(
    `<h2>Sanity</h2><p>Max perturbation ${s.maxPerturbation.toFixed(4)} (eps ${s.eps.toFixed(4)}, ${s.withinEps ? 'ok' : 'EXCEEDED'}); zero gradients ${(100 * s.zeroGradientShare).toFixed(1)}%; non-finite ${(100 * s.nonFiniteGradientShare).toFixed(1)}%; embedding spread ${s.embeddingSpread.toFixed(3)}.`,
  );
  if (s.strength)
    lines.push(
      ` Strength check: ES:R ${escape(s.strength.baseEstimate ? formatPercentEstimate(s.strength.baseEstimate) : `${s.strength.base.toFixed(1)}%`)} &rarr; ` +
        `${escape(s.strength.strongerEstimate ? formatPercentEstimate(s.strength.strongerEstimate) : `${s.strength.stronger.toFixed(1)}%`)} with ${s.strength.steps} steps x ${s.strength.restarts} restarts.`,
    );
  if (s.alternative)
    lines.push(
      ` Another attack: ES:R ${escape(formatPercentEstimate(s.alternative.base))} &rarr; ${escape(formatPercentEstimate(s.alternative.alternative))} ` +
        `with ${escape(s.alternative.method)}${s.alternative.warning ? ' (beats the configured attack by more than its interval)' : ' (ok)'}.`,
    );
  lines.push('</p>');
  for (const warning of s.warnings) lines.push(`<p class="warn">Warning: ${escape(warning)}</p>`);
  if (r.examples.length > 0) {
    lines.push('<h2>Worst examples (original | adversarial | amplified perturbation)</h2>');
    for (const e of r.examples) {
      const png = examplePngs[e.n];
      lines.push(
        `<figure>${png ? `<img alt="example ${e.n}" width="${e.png.width}" height="${e.png.height}" src="data:image/png;base64,${Buffer.from(png).toString('base64')}">` : ''}`,
      );
      lines.push(
        `<figcaption>${escape(e.attack)}: label ${escape(e.label)}; clean top-1 ${escape(e.cleanTop.label)} &rarr; attacked top-1 ${escape(e.attackedTop.label)}${e.flipped ? ' (flipped)' : ''}; shift ${e.embeddingShift.toFixed(3)}</figcaption></figure>`,
      );
    }
  }
  lines.push('</body></html>');
  return lines.join('\n');
}
