/// out (B, T, C) = wte[tokens[b, t]] + wpe[t].
/// `vocabStart`/`vocabCount` select this rank's rows of a vocabulary-sharded wte: a token outside
/// them contributes nothing (another rank adds it), which is what vocabulary parallelism needs.
/// wpe may be nil when another rank owns position embeddings.
public func embeddingForward(_ out: FloatPointer, _ tokens: UnsafePointer<Int32>,
                             _ wte: ConstFloatPointer, _ wpe: ConstFloatPointer?,
                             B: Int, T: Int, C: Int, vocabStart: Int = 0, vocabCount: Int = .max) {
    for b in 0..<B {
        for t in 0..<T {
            let o = out + (b * T + t) * C
            let token = Int(tokens[b * T + t]) - vocabStart
            let hasToken = token >= 0 && token < vocabCount
            switch (hasToken, wpe) {
            case (true, let wpe?):
                let e = wte + token * C, p = wpe + t * C
                for c in 0..<C { o[c] = e[c] + p[c] }
            case (true, nil):
                o.update(from: wte + token * C, count: C)
            case (false, let wpe?):
                o.update(from: wpe + t * C, count: C)
            case (false, nil):
                o.update(repeating: 0, count: C)
            }
        }
    }
}

/// dwte[tokens[b, t]] += dout[b, t]; dwpe[t] += dout[b, t].
public func embeddingBackward(_ dwte: FloatPointer, _ dwpe: FloatPointer?,
                              _ dout: ConstFloatPointer, _ tokens: UnsafePointer<Int32>,
                              B: Int, T: Int, C: Int, vocabStart: Int = 0, vocabCount: Int = .max) {
    for b in 0..<B {
        for t in 0..<T {
            let d = dout + (b * T + t) * C
            let token = Int(tokens[b * T + t]) - vocabStart
            if token >= 0 && token < vocabCount {
                let e = dwte + token * C
                for c in 0..<C { e[c] += d[c] }
            }
            if let dwpe {
                let p = dwpe + t * C
                for c in 0..<C { p[c] += d[c] }
            }
        }
    }
}
