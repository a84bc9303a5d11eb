import Glibc

// Rotary position embedding (RoPE) in Hugging Face transformers' Llama convention, "rotate_half":
// within a head of size HS, element i pairs with element i + HS/2 (i < HS/2), and that pair turns
// by the angle position · θ^(−2i/HS).

/// The cos and sin of every rotary angle for positions 0..<positions, (positions, HS/2) each, made
/// once and read by every step. Angle, cos and sin are computed in Double and each table entry rounded
/// once to Float. (HF forms the angle in fp32, position × fp32 inv_freq, so its angles drift from
/// these by up to about 7e-8 · position radians, measured on an fp32 emulation of it: 3e-4 at
/// position 4096; these are the exact angles, rounded once.)
public struct RopeTable: Sendable {
    public let HS: Int, positions: Int, theta: Double
    /// (positions, HS/2): entry [p, i] for the angle p · θ^(−2i/HS).
    let cos: [Float], sin: [Float]

    public init(HS: Int, positions: Int, theta: Double = 10_000) {
        precondition(HS > 0 && HS % 2 == 0, "rotary embedding needs an even head size, got HS = \(HS)")
        precondition(positions >= 0, "a rotary table for \(positions) positions")
        let half = HS / 2
        var cos = [Float](repeating: 0, count: positions * half), sin = cos
        for i in 0..<half {
            let inverseFrequency = 1.0 / pow(theta, Double(2 * i) / Double(HS))
            for p in 0..<positions {
                let angle = Double(p) * inverseFrequency
                cos[p * half + i] = Float(Glibc.cos(angle))
                sin[p * half + i] = Float(Glibc.sin(angle))
            }
        }
        (self.HS, self.positions, self.theta, self.cos, self.sin) = (HS, positions, theta, cos, sin)
    }
}

/// Rotates the q and k heads of qkv (B, T, (NH + 2·NKV)·HS) in place: per token [q (NH·HS) |
/// k (NKV·HS) | v (NKV·HS)], token t of every sequence at position position0 + t (position0 > 0
/// continues a sequence, as a KV-cache step does). With c, s the cos and sin of the pair's angle:
/// x[i] ← x[i]·c − x[i+HS/2]·s and x[i+HS/2] ← x[i+HS/2]·c + x[i]·s. v is left alone. In place
/// because nothing needs the unrotated q and k: attention's backward reads the rotated ones, and
/// the qkv projection's backward reads its own input.
public func ropeForward(_ qkv: FloatPointer, _ table: RopeTable, B: Int, T: Int, NH: Int, NKV: Int? = nil,
                        HS: Int, position0: Int = 0) {
    rotate(qkv, table, B: B, T: T, NH: NH, NKV: NKV ?? NH, HS: HS, position0: position0, sign: 1)
}

/// dqkv (B, T, (NH + 2·NKV)·HS) ← the gradient with respect to the unrotated qkv, in place: the q
/// and k gradients turn back by −angle (a rotation's transpose is its inverse); v's pass through.
public func ropeBackward(_ dqkv: FloatPointer, _ table: RopeTable, B: Int, T: Int, NH: Int, NKV: Int? = nil,
                         HS: Int, position0: Int = 0) {
    rotate(dqkv, table, B: B, T: T, NH: NH, NKV: NKV ?? NH, HS: HS, position0: position0, sign: -1)
}

/// Turns each q and k pair by sign · angle (sign ±1, so sign · sin is exact and backward is the
/// exact transpose of forward).
private func rotate(_ qkv: FloatPointer, _ table: RopeTable, B: Int, T: Int, NH: Int, NKV: Int, HS: Int,
                    position0: Int, sign: Float) {
    precondition(HS % 2 == 0, "rotary embedding needs an even head size, got HS = \(HS)")
    precondition(table.HS == HS, "the rotary table is for HS = \(table.HS), the heads have HS = \(HS)")
    precondition(position0 >= 0 && position0 + T <= table.positions,
                 "positions \(position0)..<\(position0 + T) do not fit the rotary table's \(table.positions)")
    let half = HS / 2, row = (NH + 2 * NKV) * HS, rotated = NH + NKV  // q's heads, then k's, are adjacent
    table.cos.withUnsafeBufferPointer { cosines in
        table.sin.withUnsafeBufferPointer { sines in
            KernelThreads.forEachChunk(B * T, cost: rotated * HS) { tokens in
                for token in tokens {
                    let position = position0 + token % T
                    let c = cosines.baseAddress! + position * half, s = sines.baseAddress! + position * half
                    for head in 0..<rotated {
                        let x = qkv + token * row + head * HS, y = x + half
                        for i in 0..<half {
                            let a = x[i], b = y[i], si = sign * s[i]
                            x[i] = a * c[i] - b * si
                            y[i] = b * c[i] + a * si
                        }
                    }
                }
            }
        }
    }
}
