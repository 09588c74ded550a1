// Chart helpers over uPlot: sparklines, bars per key, lines per key over time. Each helper keeps
// one uPlot per container and updates it in place (setData), rebuilding only when its shape
// (the labels or the series) changes.
'use strict';

const Charts = (() => {
  const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d',
                   '#9333ea', '#ea580c', '#0d9488', '#4f46e5', '#be123c', '#15803d', '#a16207', '#1d4ed8'];
  const color = (i) => palette[i % palette.length];

  function width(el, fallback) {
    return Math.max(200, el.clientWidth || fallback || 600);
  }

  function replace(el, shape, make) {
    if (el._plot && el._shape === shape) return el._plot;
    if (el._plot) el._plot.destroy();
    el.textContent = '';
    el._plot = make();
    el._shape = shape;
    return el._plot;
  }

  // A tiny line of the last values (no axes); `values` oldest first.
  function spark(el, values, stroke) {
    const xs = values.map((_, i) => i);
    const data = [xs, values];
    const plot = replace(el, 'spark', () => new uPlot({
      width: 130, height: 30, legend: {show: false}, cursor: {show: false}, select: {show: false},
      axes: [{show: false}, {show: false}],
      scales: {x: {time: false}, y: {range: (u, min, max) => [0, Math.max(1, max)]}},
      series: [{}, {stroke: stroke || '#2563eb', width: 1.5, fill: 'rgba(37,99,235,.08)', points: {show: false}}],
    }, data, el));
    plot.setData(data);
  }

  // One bar per label.
  function bars(el, labels, values, yLabel) {
    const xs = labels.map((_, i) => i);
    const data = [xs, values];
    const plot = replace(el, 'bars:' + labels.join('\u0001'), () => new uPlot({
      width: width(el), height: 260, legend: {show: false},
      scales: {x: {time: false, range: () => [-0.5, labels.length - 0.5]},
               y: {range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1]}},
      axes: [{splits: () => xs, values: (u, splits) => splits.map((i) => labels[i] ?? '')},
             {label: yLabel, size: 70}],
      series: [{}, {label: yLabel, fill: 'rgba(37,99,235,.75)', stroke: '#1d4ed8',
                    paths: uPlot.paths.bars({size: [0.6, 90]}), points: {show: false}}],
    }, data, el));
    plot.setData(data);
  }

  // Lines per key: `xs` are times in seconds, `series` maps key -> values aligned with xs (null: no value).
  function lines(el, xs, series, yLabel) {
    const keys = Object.keys(series).sort();
    const data = [xs, ...keys.map((k) => series[k])];
    const plot = replace(el, 'lines:' + keys.join('\u0001'), () => new uPlot({
      width: width(el), height: 280,
      // From the data, not uPlot's own guess, which for one point spans 1,000 days: one window alone
      // shows the ten minutes before it; several, their span and a little room.
      scales: {x: {time: true, range: (u, min, max) => {
        const t = u.data[0].filter((v) => v !== null && v !== undefined);
        if (!t.length) return [min, max];
        const lo = Math.min(...t), hi = Math.max(...t);
        if (hi === lo) return [hi - 600, hi + 60];
        const pad = Math.max((hi - lo) * 0.02, 1);
        return [lo - pad, hi + pad];
      }}},
      axes: [{}, {label: yLabel, size: 70}],
      series: [{}, ...keys.map((k, i) => ({label: k, stroke: color(i), width: 2, spanGaps: true,
                                           points: {show: xs.length < 60}}))],
    }, data, el));
    plot.setData(data);
  }

  return {spark, bars, lines, color};
})();
