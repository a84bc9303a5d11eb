/// An HDF5 identifier owned by one object: closed at most once, and trapping if used after that.
struct H5Handle {
    private var id: HID

    init(_ id: HID) { self.id = id }

    /// The open identifier; `owner` names the object in the trap message.
    func open(_ owner: @autoclosure () -> String) -> HID {
        precondition(id >= 0, "\(owner()) used after close()")
        return id
    }

    /// Closes the identifier (H5Fclose, H5Dclose, ... as its type requires); later calls do nothing.
    mutating func close(_ site: H5Site) throws {
        guard id >= 0 else { return }
        let closing = id
        id = -1
        try H5C.close(closing, site)
    }
}
