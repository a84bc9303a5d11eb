/// One curve of a panel: points in step order; a non-finite y breaks the line there. `dots` marks
/// each point too, for sparse series such as validation losses.
public struct Series: Sendable {
    public let label: String
    public let color: Color
    public let points: [(x: Double, y: Double)]
    public let dots: Bool

    public init(label: String, color: Color, points: [(x: Double, y: Double)], dots: Bool = false) {
        (self.label, self.color, self.points, self.dots) = (label, color, points, dots)
    }
}

/// A panel: a title (which names the unit), its curves, and vertical markers (alarms) at steps.
public struct Panel: Sendable {
    public let title: String
    public let series: [Series]
    public let markers: [Double]
    public let markerLabel: String

    public init(title: String, series: [Series], markers: [Double] = [], markerLabel: String = "alarm") {
        (self.title, self.series, self.markers, self.markerLabel) = (title, series, markers, markerLabel)
    }
}

/// Panels in a grid under a title line, sharing one step axis, drawn on a canvas: each panel with
/// a framed plot area, light grid lines at round ticks, tick labels on both axes, its curves, its
/// markers as dashed red verticals with a triangle on top, and a legend in the corner its curves
/// cross least.
public struct Figure: Sendable {
    public let title: String
    public let panels: [Panel]
    public let columns: Int

    /// Text is drawn at twice the font's size: 12-pixel advance, 14 pixels high.
    static let scale = 2
    static let lineHeight = (BitmapFont.glyphHeight + BitmapFont.descent) * scale

    public init(title: String, panels: [Panel], columns: Int = 2) {
        precondition(!panels.isEmpty && columns > 0, "\(panels.count) panels in \(columns) columns")
        (self.title, self.panels, self.columns) = (title, panels, columns)
    }

    public func render(width: Int = 1200, height: Int = 860) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        BitmapFont.draw(title, x: 16, y: 12, scale: Self.scale, .text, on: &canvas)
        let top = 12 + Self.lineHeight + 10, rows = (panels.count + columns - 1) / columns
        let cellWidth = width / columns, cellHeight = (height - top) / rows
        let xs = panels.flatMap { $0.series.flatMap { $0.points.map(\.x) } + $0.markers }
        // From step 0 unless the run starts late (a later pipeline stage's steps), to the last step.
        let first = xs.min() ?? 0, last = xs.max() ?? 1
        let xAxis = Ticks.nice(first < 0.2 * last ? 0 : first, last, count: 6, tight: true)
        for (i, panel) in panels.enumerated() {
            let cell = (x: (i % columns) * cellWidth, y: top + (i / columns) * cellHeight)
            draw(panel, in: (cell.x, cell.y, cellWidth, cellHeight), xAxis: xAxis, on: &canvas)
        }
        return canvas
    }

    /// Plot area inside a cell: room on the left for y labels, below for x labels and "step".
    private func draw(_ panel: Panel, in cell: (x: Int, y: Int, w: Int, h: Int), xAxis: (ticks: [Double], lo: Double, hi: Double),
                      on canvas: inout Canvas) {
        let lh = Self.lineHeight, scale = Self.scale
        let area = (x: cell.x + 96, y: cell.y + lh + 12, w: cell.w - 96 - 24, h: cell.h - lh - 12 - 2 * lh - 22)
        BitmapFont.draw(panel.title, x: area.x, y: cell.y + 4, scale: scale, .text, on: &canvas)
        let ys = panel.series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        let yAxis = Ticks.nice(ys.min() ?? 0, ys.max() ?? 1, count: 5)
        func px(_ x: Double) -> Int { area.x + Int(((x - xAxis.lo) / (xAxis.hi - xAxis.lo) * Double(area.w - 1)).rounded()) }
        func py(_ y: Double) -> Int { area.y + Int(((yAxis.hi - y) / (yAxis.hi - yAxis.lo) * Double(area.h - 1)).rounded()) }

        let xStep = xAxis.ticks.count > 1 ? xAxis.ticks[1] - xAxis.ticks[0] : 1
        for tick in xAxis.ticks {
            canvas.line(px(tick), area.y, px(tick), area.y + area.h - 1, .grid)
            let text = Ticks.label(tick, step: xStep)
            BitmapFont.draw(text, x: px(tick) - BitmapFont.width(of: text, scale: scale) / 2, y: area.y + area.h + 8,
                            scale: scale, .text, on: &canvas)
        }
        let yStep = yAxis.ticks.count > 1 ? yAxis.ticks[1] - yAxis.ticks[0] : 1
        for tick in yAxis.ticks {
            canvas.line(area.x, py(tick), area.x + area.w - 1, py(tick), .grid)
            let text = Ticks.label(tick, step: yStep)
            BitmapFont.draw(text, x: area.x - 10 - BitmapFont.width(of: text, scale: scale), y: py(tick) - BitmapFont.glyphHeight * scale / 2,
                            scale: scale, .text, on: &canvas)
        }
        let stepLabel = "step"
        BitmapFont.draw(stepLabel, x: area.x + (area.w - BitmapFont.width(of: stepLabel, scale: scale)) / 2,
                        y: area.y + area.h + 8 + lh + 6, scale: scale, .text, on: &canvas)
        canvas.frame(x: area.x, y: area.y, width: area.w, height: area.h, .axis)

        if ys.isEmpty {
            let text = "no data"
            BitmapFont.draw(text, x: area.x + (area.w - BitmapFont.width(of: text, scale: scale)) / 2, y: area.y + area.h / 2 - lh / 2,
                            scale: scale, .axis, on: &canvas)
        }
        for marker in panel.markers {
            let x = px(marker)
            canvas.line(x, area.y, x, area.y + area.h - 1, Color.alarm, thickness: 2, dash: 5)
            for row in 0..<8 { canvas.fill(x: x - 7 + row, y: area.y + row, width: 15 - 2 * row, height: 1, Color.alarm) }
        }
        // Every 4th pixel along the curves, for the legend to avoid lines as well as points.
        var inked: [(Int, Int)] = []
        for series in panel.series {
            var previous: (Int, Int)?
            for point in series.points {
                guard point.y.isFinite else { previous = nil; continue }
                let p = (px(point.x), py(point.y))
                if let previous {
                    canvas.line(previous.0, previous.1, p.0, p.1, series.color, thickness: 2)
                    let n = max(1, max(abs(p.0 - previous.0), abs(p.1 - previous.1)) / 4)
                    inked += (1...n).map { (previous.0 + (p.0 - previous.0) * $0 / n, previous.1 + (p.1 - previous.1) * $0 / n) }
                } else {
                    inked.append(p)
                }
                if series.dots { canvas.fill(x: p.0 - 3, y: p.1 - 3, width: 7, height: 7, series.color) }
                previous = p
            }
        }
        drawLegend(panel, area: area, points: inked, on: &canvas)
    }

    /// A framed box of swatches and labels in the plot area's corner that covers fewest curve pixels.
    private func drawLegend(_ panel: Panel, area: (x: Int, y: Int, w: Int, h: Int), points: [(Int, Int)], on canvas: inout Canvas) {
        var entries = panel.series.map { ($0.label, $0.color) }
        if !panel.markers.isEmpty { entries.append(("\(panel.markerLabel) (\(panel.markers.count))", Color.alarm)) }
        guard !entries.isEmpty else { return }
        let lh = Self.lineHeight, swatch = 24, pad = 8
        let w = pad * 3 + swatch + (entries.map { BitmapFont.width(of: $0.0, scale: Self.scale) }.max() ?? 0)
        let h = pad * 2 + entries.count * (lh + 6) - 6
        let corners = [(area.x + area.w - w - 6, area.y + 6), (area.x + 6, area.y + 6),
                       (area.x + area.w - w - 6, area.y + area.h - h - 6), (area.x + 6, area.y + area.h - h - 6)]
        let (x, y) = corners.min { a, b in covered(a, w, h, points) < covered(b, w, h, points) }!
        canvas.fill(x: x, y: y, width: w, height: h, .white)
        canvas.frame(x: x, y: y, width: w, height: h, .axis)
        for (i, (label, color)) in entries.enumerated() {
            let row = y + pad + i * (lh + 6)
            canvas.line(x + pad, row + lh / 2, x + pad + swatch, row + lh / 2, color, thickness: 3)
            BitmapFont.draw(label, x: x + 2 * pad + swatch, y: row, scale: Self.scale, .text, on: &canvas)
        }
    }

    private func covered(_ corner: (Int, Int), _ w: Int, _ h: Int, _ points: [(Int, Int)]) -> Int {
        points.count { $0.0 >= corner.0 && $0.0 < corner.0 + w && $0.1 >= corner.1 && $0.1 < corner.1 + h }
    }
}
