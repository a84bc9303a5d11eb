import Foundation
import Testing
@testable import Checkpoint

@Suite struct HDF5ErrorTests {
    @Test func missingFileThrowsNamingTheFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/absent.h5"
            let error = #expect(throws: HDF5Error.self) { try H5File(reading: path) }
            #expect(error?.operation == "H5Fopen")
            #expect(error?.file == path)
            #expect(error?.description.contains(path) == true)
        }
    }

    @Test func fileThatIsNotHDF5Throws() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/text.h5"
            try Data("not an hdf5 file\n".utf8).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: HDF5Error.self) { try H5File(reading: path) }
            #expect(error?.operation == "H5Fopen")
            #expect(error?.detail.contains("signature") == true)
        }
    }

    @Test func missingDatasetThrowsNamingTheDataset() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/one.h5"
            let file = try H5File(creating: path)
            let error = #expect(throws: HDF5Error.self) { try file.openDataset("wte") }
            #expect(error?.operation == "H5Dopen2")
            #expect(error?.object == "dataset 'wte'")
            #expect(error?.description.contains("wte") == true)
        }
    }

    @Test func missingOrMistypedAttributeThrows() throws {
        try withTemporaryDirectory { dir in
            let file = try H5File(creating: dir + "/attrs.h5")
            try file.attributes.set("step", .string("five"))
            let missing = #expect(throws: HDF5Error.self) { try file.attributes.get("config") }
            #expect(missing?.object == "attribute 'config'")
            let mistyped = #expect(throws: HDF5Error.self) { try file.attributes.int64("step") }
            #expect(mistyped?.detail == "expected an integer")
        }
    }

    @Test func creatingAFileInAMissingFolderThrows() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: HDF5Error.self) { try H5File(creating: dir + "/no/such.h5") }
            #expect(error?.operation == "H5Fcreate")
        }
    }
}
