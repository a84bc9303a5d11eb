import Foundation

/// The most memory this process has held resident (VmHWM in /proc/self/status), in bytes; 0
/// where the file is missing.
func peakResidentBytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kib = Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") else { return 0 }
    return kib * 1024
}

/// CPU time (user and system) of every thread of this process so far, in seconds: on a machine
/// whose cores are shared with other jobs, what a step costs rather than how long it waited.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
