// Thrifty dashboard: draws each <canvas data-chart> with Chart.js from the JSON beside it.
// Pages work without it (every chart has its figures in a table); this only adds the charts.
(function () {
  "use strict";

  function money(value) {
    var v = Number(value);
    if (Math.abs(v) >= 1 || v === 0) return "$" + v.toFixed(2);
    return "$" + v.toPrecision(3);
  }

  function prepare(spec) {
    var options = spec.options || (spec.options = {});
    options.animation = false;
    options.responsive = true;
    options.maintainAspectRatio = false;
    if (spec.money) {
      var y = ((options.scales = options.scales || {}).y = options.scales.y || {});
      (y.ticks = y.ticks || {}).callback = money;
    }
    // A dataset may carry a note per point (an anomaly's root cause): shown in its tooltip.
    var plugins = options.plugins || (options.plugins = {});
    // A dataset with "hideInLegend" (the lower edge of a filled band) stays out of the legend.
    var legend = plugins.legend || (plugins.legend = {});
    (legend.labels = legend.labels || {}).filter = function (item, data) {
      return !data.datasets[item.datasetIndex].hideInLegend;
    };
    var tooltip = plugins.tooltip || (plugins.tooltip = {});
    tooltip.callbacks = {
      label: function (item) {
        var label = item.dataset.label ? item.dataset.label + ": " : "";
        var value = item.parsed.y;
        return label + (spec.money ? money(value) : value);
      },
      afterLabel: function (item) {
        var notes = item.dataset.notes;
        // One line per "\n" (tooltips do not wrap, and phones are narrow).
        return notes && notes[item.dataIndex] ? String(notes[item.dataIndex]).split("\n") : "";
      },
    };
    return spec;
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") return;
    var spec = prepare(JSON.parse(source.textContent));
    var chart = new Chart(canvas, spec);
    var points = chart.data.datasets.reduce(function (n, d) { return n + d.data.length; }, 0);
    canvas.dataset.points = String(points);
    canvas.dataset.rendered = "true";
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
