/// An 8-bit RGB colour.
public struct Color: Equatable, Sendable {
    public let r: UInt8, g: UInt8, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        (self.r, self.g, self.b) = (r, g, b)
    }

    public static let white = Color(255, 255, 255)
    public static let black = Color(0, 0, 0)
    public static let grid = Color(225, 225, 225)
    public static let axis = Color(90, 90, 90)
    public static let text = Color(30, 30, 30)
    /// Series colours: matplotlib's tab10 (blue, orange, green, purple, brown, pink), told apart
    /// in print and by most colour-blind readers.
    public static let series = [Color(31, 119, 180), Color(255, 127, 14), Color(44, 160, 44),
                                Color(148, 103, 189), Color(140, 86, 75), Color(227, 119, 194)]
    /// Alarm markers: tab10's red, used for nothing else.
    public static let alarm = Color(214, 39, 40)
}

/// A width × height RGB raster, row-major from the top-left corner, with the few drawing
/// operations a chart needs. Every operation clips to the canvas, so callers may draw past edges.
public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    /// (height, width, 3) bytes.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: Color = .white) {
        precondition(width > 0 && height > 0, "canvas \(width) × \(height)")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, background)
    }

    public func pixel(x: Int, y: Int) -> Color {
        let i = 3 * (y * width + x)
        return Color(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func set(x: Int, y: Int, _ color: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        (pixels[i], pixels[i + 1], pixels[i + 2]) = (color.r, color.g, color.b)
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ color: Color) {
        for row in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for column in max(0, x)..<max(max(0, x), min(width, x + w)) { set(x: column, y: row, color) }
        }
    }

    /// The outline of a rectangle, one pixel wide.
    public mutating func frame(x: Int, y: Int, width w: Int, height h: Int, _ color: Color) {
        line(x, y, x + w - 1, y, color)
        line(x, y + h - 1, x + w - 1, y + h - 1, color)
        line(x, y, x, y + h - 1, color)
        line(x + w - 1, y, x + w - 1, y + h - 1, color)
    }

    /// A straight line from (x0, y0) to (x1, y1), both ends drawn (Bresenham), with a square pen of
    /// `thickness` pixels; with `dash` > 0, `dash` pixels on and `dash` off along the longer axis.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: Color, thickness: Int = 1, dash: Int = 0) {
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var (x, y, error, n) = (x0, y0, dx + dy, 0)
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        while true {
            if dash == 0 || (n / dash) % 2 == 0 {
                for oy in lo...hi { for ox in lo...hi { set(x: x + ox, y: y + oy, color) } }
            }
            if x == x1 && y == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
            n += 1
        }
    }
}
