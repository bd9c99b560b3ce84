"""Demo citizens of the embedded default: who the demo identity provider can sign in."""
DEMO_CITIZENS = {
    "zhangsan": {"sub": "hyb-demo-zhangsan", "name": "张三", "id_type": "resident_id", "id_number": "460200199001011234", "phone": "13800000001"},
    "lisi": {"sub": "hyb-demo-lisi", "name": "李四", "id_type": "resident_id", "id_number": "460100198505052345", "phone": "13800000002"},
    "wangwu": {"sub": "hyb-demo-wangwu", "name": "王五", "id_type": "resident_id", "id_number": "440106198807073456", "phone": "13800000003"},
    "zhaoliu": {"sub": "hyb-demo-zhaoliu", "name": "赵六", "id_type": "resident_id", "id_number": "420102199203154567", "phone": "13800000004"},
}
