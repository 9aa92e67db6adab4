/* Charts from data the page embeds as JSON (no inline scripts): <canvas data-chart="ID"> reads
   <script type="application/json" id="ID">{"kind": "bar", "labels": [...], "series": [...], "unit": "%"}</script>;
   "money": true shows values as whole dollars with thousands separators ($1,250,000).
   Each chart also has a data table next to it for screen readers and keyboard users. */
(function () {
  var palette = ["#1f5fbf", "#9aa5b4", "#c0392b", "#1e7b3a", "#8a5a00"];
  function formatter(spec, digits) {
    var unit = spec.unit || "";
    if (spec.money) {
      return function (v) { return (v < 0 ? "−$" : "$") + Math.abs(Math.round(v)).toLocaleString("en-US") + unit; };
    }
    return function (v) { return (digits === undefined ? v : v.toFixed(digits)) + unit; };
  }
  function valueAxis(axis, spec) {
    // Only the value axis gets a formatter: the category axis keeps Chart.js's own (the labels).
    var scales = {};
    scales[axis] = { ticks: { callback: formatter(spec) } };
    return scales;
  }
  function stack(scales, spec) {
    // "stacked": one bar per category made of every series (what sits where, by account).
    if (!spec.stacked) return scales;
    ["x", "y"].forEach(function (a) { scales[a] = Object.assign(scales[a] || {}, { stacked: true }); });
    return scales;
  }
  function draw(canvas) {
    if (!window.Chart || canvas.dataset.drawn) return;
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    var label = formatter(spec, 2);
    canvas.dataset.drawn = "1";
    new Chart(canvas, {
      type: spec.kind || "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: s.color || palette[i % palette.length],
                   borderColor: s.color || palette[i % palette.length], borderRadius: 3, maxBarThickness: 38 };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        indexAxis: spec.horizontal ? "y" : "x",
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (c) {
            var v = spec.horizontal ? c.parsed.x : c.parsed.y;
            return c.dataset.label + ": " + label(v); } } }
        },
        scales: stack(valueAxis(spec.horizontal ? "x" : "y", spec), spec)
      }
    });
  }
  function drawAll(root) { (root || document).querySelectorAll("canvas[data-chart]").forEach(draw); }
  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target); });
})();
