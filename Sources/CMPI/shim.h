// OpenMPI's C API for TesseraDistributed. OpenMPI defines its predefined handles
// (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, ...) as macros over addresses of globals, which
// Swift cannot import; these inline accessors give them to Swift.
#ifndef TESSERA_CMPI_SHIM_H
#define TESSERA_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm tsr_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm tsr_mpi_comm_self(void) { return MPI_COMM_SELF; }
static inline MPI_Comm tsr_mpi_comm_null(void) { return MPI_COMM_NULL; }

static inline MPI_Datatype tsr_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype tsr_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype tsr_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype tsr_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype tsr_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype tsr_mpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype tsr_mpi_uint32(void) { return MPI_UINT32_T; }
static inline MPI_Datatype tsr_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype tsr_mpi_datatype_null(void) { return MPI_DATATYPE_NULL; }

static inline MPI_Op tsr_mpi_op_sum(void) { return MPI_SUM; }
static inline MPI_Op tsr_mpi_op_max(void) { return MPI_MAX; }
static inline MPI_Op tsr_mpi_op_min(void) { return MPI_MIN; }
static inline MPI_Op tsr_mpi_op_prod(void) { return MPI_PROD; }

static inline MPI_Request tsr_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Errhandler tsr_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *tsr_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *tsr_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *tsr_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }

static inline int tsr_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int tsr_mpi_any_tag(void) { return MPI_ANY_TAG; }
static inline int tsr_mpi_proc_null(void) { return MPI_PROC_NULL; }
static inline int tsr_mpi_undefined(void) { return MPI_UNDEFINED; }
static inline int tsr_mpi_success(void) { return MPI_SUCCESS; }
static inline int tsr_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int tsr_mpi_order_c(void) { return MPI_ORDER_C; }

static inline int tsr_mpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int tsr_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int tsr_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int tsr_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }

static inline int tsr_mpi_status_source(const MPI_Status *s) { return s->MPI_SOURCE; }
static inline int tsr_mpi_status_tag(const MPI_Status *s) { return s->MPI_TAG; }
static inline int tsr_mpi_status_error(const MPI_Status *s) { return s->MPI_ERROR; }

#endif
