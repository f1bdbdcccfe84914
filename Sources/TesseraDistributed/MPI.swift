// The process-wide MPI state: initialisation with a checked thread level, finalisation,
// errors as TesseraError, and the mapping of Swift element types to MPI's named types.

import Foundation
internal import CMPI
import Tessera

/// MPI (OpenMPI) for Tessera: start it once per process, get the world communicator, finish
/// it before exit.
///
///     let world = try MPI.initialize()          // MPI_Init_thread(FUNNELED), checked
///     let total = try world.allreduce([Double(world.rank)], op: .sum)
///     try MPI.finalize()
///
/// Run the program under `mpirun -np N`; started without mpirun, MPI runs as a singleton
/// (one rank) and `MPI.launchedByMPIRun` is false, so callers can print a note.
public enum MPI {
    /// How threads may call MPI (MPI_THREAD_*). Tessera's pool workers never call MPI, so
    /// `.funneled` (only the thread that initialised MPI calls it) is the default.
    public enum ThreadLevel: Int, Comparable, Sendable, CustomStringConvertible {
        /// MPI_THREAD_SINGLE, _FUNNELED, _SERIALIZED and _MULTIPLE.
        case single = 0, funneled = 1, serialized = 2, multiple = 3

        var cValue: Int32 {
            switch self {
            case .single: return tsr_mpi_thread_single()
            case .funneled: return tsr_mpi_thread_funneled()
            case .serialized: return tsr_mpi_thread_serialized()
            case .multiple: return tsr_mpi_thread_multiple()
            }
        }
        init(cValue: Int32) {
            if cValue == tsr_mpi_thread_multiple() { self = .multiple }
            else if cValue == tsr_mpi_thread_serialized() { self = .serialized }
            else if cValue == tsr_mpi_thread_funneled() { self = .funneled }
            else { self = .single }
        }
        /// Orders levels from `single` to `multiple`.
        public static func < (a: ThreadLevel, b: ThreadLevel) -> Bool { a.rawValue < b.rawValue }
        /// The level's MPI name, e.g. "MPI_THREAD_FUNNELED".
        public var description: String {
            switch self {
            case .single: return "MPI_THREAD_SINGLE"
            case .funneled: return "MPI_THREAD_FUNNELED"
            case .serialized: return "MPI_THREAD_SERIALIZED"
            case .multiple: return "MPI_THREAD_MULTIPLE"
            }
        }
    }

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var world: Communicator?
        var provided: ThreadLevel = .single
    }
    private static let state = State()

    /// Initialises MPI (once; later calls return the same world communicator if the thread
    /// level asked for is still satisfied). Errors: `.unsupported` if the MPI library gives a
    /// lower thread level than `threadLevel`; `.invalidState` after `finalize`; `.io` with
    /// MPI's message if MPI_Init_thread fails.
    @discardableResult
    public static func initialize(threadLevel: ThreadLevel = .funneled) throws(TesseraError) -> Communicator {
        state.lock.lock()
        defer { state.lock.unlock() }
        if let w = state.world {
            guard state.provided >= threadLevel else {
                throw .unsupported("MPI.initialize: MPI was initialised with \(state.provided), \(threadLevel) was asked for")
            }
            return w
        }
        guard !isFinalized else { throw .invalidState("MPI.initialize: MPI was already finalised (it cannot be restarted)") }
        var provided: Int32 = 0
        _ = launchEnvironment
        spreadUnboundLocalRanks()
        if !isInitialized {
            try mpiCheck(MPI_Init_thread(nil, nil, threadLevel.cValue, &provided), "MPI_Init_thread")
            // Without this an MPI process killed by an uncaught error would leave mpirun
            // reporting a missing finalise; with it, normal exit finalises.
            atexit { MPI.finalizeAtExit() }
        } else {
            try mpiCheck(MPI_Query_thread(&provided), "MPI_Query_thread")
        }
        let level = ThreadLevel(cValue: provided)
        guard level >= threadLevel else {
            throw .unsupported("MPI.initialize: asked for \(threadLevel), this MPI library provides only \(level)")
        }
        // Errors come back as codes (turned into TesseraError) instead of aborting the job.
        let world = tsr_mpi_comm_world()!
        try mpiCheck(MPI_Comm_set_errhandler(world, tsr_mpi_errors_return()), "MPI_Comm_set_errhandler")
        _ = MPI_Comm_set_errhandler(tsr_mpi_comm_self(), tsr_mpi_errors_return())
        let w = try Communicator(borrowing: world, name: "world")
        state.world = w
        state.provided = level
        return w
    }

    /// The world communicator (initialises MPI with `.funneled` on first use).
    public static var world: Communicator {
        get throws(TesseraError) { try initialize() }
    }

    /// The thread level MPI provides (`.single` before initialisation).
    public static var providedThreadLevel: ThreadLevel {
        state.lock.lock(); defer { state.lock.unlock() }
        return state.provided
    }

    /// Whether MPI_Init has run in this process.
    public static var isInitialized: Bool { var f: Int32 = 0; _ = MPI_Initialized(&f); return f != 0 }
    /// Whether MPI_Finalize has run in this process.
    public static var isFinalized: Bool { var f: Int32 = 0; _ = MPI_Finalized(&f); return f != 0 }

    /// True when the process was started by mpirun / mpiexec (read from the environment
    /// before MPI starts: a singleton MPI_Init sets PMIx variables of its own).
    /// Several ranks on one machine that mpirun did not bind (`--bind-to none`, oversubscription)
    /// each see every core, and the pools' default `core` binding would pin every rank's worker 0
    /// to the same first core (measured: two such ranks ran at 0.4 of one rank's speed). Then
    /// binding is turned off (`TESSERA_BIND=none`, read when a pool is created) so the OS spreads
    /// the ranks; an explicit TESSERA_BIND wins. Pools created before `initialize` keep theirs.
    private static func spreadUnboundLocalRanks() {
        let env = ProcessInfo.processInfo.environment
        guard env["TESSERA_BIND"] == nil,
              let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init), local > 1,
              Topology.current.cores > 1 else { return }
        setenv("TESSERA_BIND", "none", 1)
    }

    /// True when mpirun / mpiexec started this process (read from the environment at startup).
    public static var launchedByMPIRun: Bool { launchEnvironment }
    private static let launchEnvironment: Bool = {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil || env["PMI_RANK"] != nil
    }()

    /// Finalises MPI after a barrier-free wait for this rank's outstanding work. Communicators
    /// must not be used afterwards. Idempotent.
    public static func finalize() throws(TesseraError) {
        state.lock.lock()
        defer { state.lock.unlock() }
        if !isInitialized || isFinalized { return }
        try mpiCheck(MPI_Finalize(), "MPI_Finalize")
    }

    fileprivate static func finalizeAtExit() {
        if isInitialized && !isFinalized { _ = MPI_Finalize() }
    }

    /// The MPI library's version string (e.g. "Open MPI v4.1.4, ...").
    public static var libraryVersion: String {
        var buf = [CChar](repeating: 0, count: 4096)
        var len: Int32 = 0
        _ = MPI_Get_library_version(&buf, &len)
        return String(decoding: buf.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// MPI_Wtime: seconds on a per-rank clock.
    public static func wallTime() -> Double { MPI_Wtime() }

    /// Aborts every rank of the job (MPI_Abort); for fatal errors in a launched program only.
    public static func abort(code: Int32 = 1) -> Never {
        _ = MPI_Abort(tsr_mpi_comm_world(), code)
        exit(code)
    }
}

/// The text MPI gives for an error code.
func mpiErrorString(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: Int(tsr_mpi_max_error_string()) + 1)
    var len: Int32 = 0
    guard MPI_Error_string(code, &buf, &len) == tsr_mpi_success() else { return "MPI error \(code)" }
    return String(decoding: buf.prefix(Int(len)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Throws a `TesseraError` for an MPI error code, with MPI's message and the call's name.
/// Argument-type errors (counts, types, truncation, ranks, tags) map to `.invalidArgument`.
@inline(__always)
func mpiCheck(_ rc: Int32, _ call: @autoclosure () -> String) throws(TesseraError) {
    if rc == tsr_mpi_success() { return }
    throw mpiError(rc, call())
}

func mpiError(_ rc: Int32, _ call: String) -> TesseraError {
    var cls: Int32 = 0
    _ = MPI_Error_class(rc, &cls)
    let msg = "\(call): \(mpiErrorString(rc))"
    switch cls {
    case MPI_ERR_COUNT, MPI_ERR_TYPE, MPI_ERR_TRUNCATE, MPI_ERR_RANK, MPI_ERR_TAG, MPI_ERR_ARG,
         MPI_ERR_BUFFER, MPI_ERR_ROOT, MPI_ERR_OP, MPI_ERR_DIMS, MPI_ERR_TOPOLOGY, MPI_ERR_COMM:
        return .invalidArgument(msg)
    case MPI_ERR_NO_MEM:
        return .outOfMemory(msg)
    default:
        return .io(msg)
    }
}

/// The element types MPI can move and reduce: each maps to an MPI named type.
public protocol MPIElement: TensorElement {}
extension Float: MPIElement {}
extension Double: MPIElement {}
extension Int32: MPIElement {}
extension Int64: MPIElement {}
extension Int: MPIElement {}
extension UInt8: MPIElement {}
extension UInt32: MPIElement {}
extension UInt64: MPIElement {}

/// The MPI named type of an element type.
func mpiType<E: MPIElement>(_: E.Type) -> MPI_Datatype {
    switch E.self {
    case is Float.Type: return tsr_mpi_float()
    case is Double.Type: return tsr_mpi_double()
    case is Int32.Type: return tsr_mpi_int32()
    case is Int64.Type, is Int.Type: return tsr_mpi_int64()
    case is UInt8.Type: return tsr_mpi_uint8()
    case is UInt32.Type: return tsr_mpi_uint32()
    case is UInt64.Type: return tsr_mpi_uint64()
    default: return tsr_mpi_byte()
    }
}

/// A reduction operation of the collectives.
public enum ReductionOp: Sendable {
    /// Element-wise sum, maximum, minimum and product.
    case sum, max, min, product
    var cValue: MPI_Op {
        switch self {
        case .sum: return tsr_mpi_op_sum()
        case .max: return tsr_mpi_op_max()
        case .min: return tsr_mpi_op_min()
        case .product: return tsr_mpi_op_prod()
        }
    }
}

/// Checks that an Int fits MPI's `int` counts.
@inline(__always)
func mpiCount(_ n: Int, _ what: String) throws(TesseraError) -> Int32 {
    guard n >= 0, n <= Int(Int32.max) else {
        throw .outOfRange("\(what): count \(n) does not fit MPI's int counts (0...\(Int32.max))")
    }
    return Int32(n)
}
