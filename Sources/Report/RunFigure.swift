/// The figure of a run's metrics: training and validation loss (every `val_loss/NAME` of the eval
/// entries beside `val_loss`), learning rate, throughput and gradient norm, with every alarm's step
/// marked on each panel so a loss spike and the alarm it raised line up.
public enum RunFigure {
    public static func make(_ history: MetricsHistory, title: String) -> Figure {
        let alarms = Array(Set(history.alarms.map { Double($0.step) })).sorted()
        func series(_ field: String, _ label: String, _ color: Color, dots: Bool = false) -> [Series] {
            let points = history.points(field)
            return points.isEmpty ? [] : [Series(label: label, color: color, points: points.map { (Double($0.step), $0.value) }, dots: dots)]
        }
        let validations = (["val_loss"] + history.fields(prefix: "val_loss/")).enumerated().flatMap { i, field in
            series(field, field == "val_loss" ? "validation" : field, Color.series[(1 + i) % Color.series.count], dots: true)
        }
        let panels = [
            Panel(title: "loss (nats/token)", series: series("loss", "train", Color.series[0]) + validations, markers: alarms),
            Panel(title: "learning rate", series: series("lr", "lr", Color.series[0]), markers: alarms),
            Panel(title: "throughput (tokens/s)", series: series("tokens_per_s", "tokens/s", Color.series[2]), markers: alarms),
            Panel(title: "gradient norm", series: series("grad_norm", "grad norm", Color.series[3]), markers: alarms),
        ]
        return Figure(title: title, panels: panels, columns: 2)
    }
}
